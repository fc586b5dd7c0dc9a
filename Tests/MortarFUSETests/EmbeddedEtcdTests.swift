import MortarCore
import Testing

@testable import MortarCommands

/// `mortar up`'s etcd failing at start says why in one line.
@Suite("Embedded etcd")
struct EmbeddedEtcdTests {
    @Test("a port held by another process is named, with how to free it")
    func aBusyPortIsNamed() {
        // etcd 3.4's own lines when its peer port is taken.
        let log = """
            {"level":"info","ts":"2026-12-07T04:01:15.450Z","caller":"embed/etcd.go:117","msg":"configuring peer listeners"}
            {"level":"warn","ts":"2026-12-07T04:01:15.459Z","caller":"etcdmain/etcd.go:176","msg":"failed to start etcd","error":"listen tcp 127.0.0.1:24380: bind: address already in use"}
            """
        let error = EmbeddedEtcd.startFailure(log: log, logPath: "/c/etcd.log", directory: "/c")
        #expect(error.code == .busy)
        #expect(error.message.contains("port 24380 on 127.0.0.1 is in use"), "\(error.message)")
        #expect(error.message.contains("mortar down --dir"), "\(error.message)")
        #expect(!error.message.contains("\n"))
    }

    @Test("any other exit points to the log")
    func otherExitsPointToTheLog() {
        let error = EmbeddedEtcd.startFailure(
            log: #"{"level":"fatal","msg":"member has already been bootstrapped"}"#, logPath: "/c/etcd.log", directory: "/c")
        #expect(error.code == .inputOutput)
        #expect(error.message == "etcd exited at start; see /c/etcd.log")
    }
}
