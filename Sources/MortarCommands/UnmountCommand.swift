import ArgumentParser
import Foundation
import MortarCore
import MortarFUSE

/// `mortar umount [-l] MOUNTPOINT`: unmounts a Mortar mount; its mount process then exits by itself.
struct UnmountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "umount", abstract: "Unmount a mounted volume.")

    @Flag(name: .customShort("l"), help: "Lazy: detach now, finish when the last open file is closed.")
    var lazy = false

    @Argument(help: "Where the volume is mounted.")
    var mountPoint: String

    func run() async throws {
        try await reportingFailure {
            // Not realpath: a mount whose server died cannot be stat'ed, and that is a mount worth unmounting.
            let target = URL(fileURLWithPath: absolutePath(mountPoint)).standardized.path
            guard let entry = MountTable.current().last(where: { $0.mountPoint == target }) else {
                throw FileSystemError.invalidArgument("\(target) is not a mount point")
            }
            guard entry.type == "fuse.mortar" else {
                throw FileSystemError.invalidArgument("\(target) is a \(entry.type) mount, not a Mortar one")
            }
            try Self.unmount(target, lazy: lazy)
        }
    }

    /// umount2(2) as root; other users go through fusermount3, which may unmount their own FUSE mounts.
    static func unmount(_ target: String, lazy: Bool) throws {
        if umount2(target, lazy ? Int32(MNT_DETACH) : 0) == 0 { return }
        let failure = errno
        switch failure {
        case EBUSY:
            throw FileSystemError(.busy, "\(target) is busy (files are open there); 'mortar umount -l' detaches it")
        case EPERM:
            let helper = Process()
            helper.executableURL = URL(fileURLWithPath: "/usr/bin/fusermount3")
            helper.arguments = ["-u"] + (lazy ? ["-z"] : []) + [target]
            try helper.run()
            helper.waitUntilExit()
            guard helper.terminationStatus == 0 else {
                throw FileSystemError(.operationNotPermitted, "fusermount3 could not unmount \(target)")
            }
        default:
            throw FileSystemError.fromErrno("umount", target, errno: failure)
        }
    }
}

/// `mortar install-mount-helper`: makes `mount -t mortar` and fstab lines work by linking `mount.mortar` (the
/// name mount(8) looks for in /sbin) to this binary, which behaves as the helper when called by that name.
struct InstallMountHelperCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install-mount-helper", abstract: "Link /sbin/mount.mortar to this binary.")

    @Option(help: "Where mount(8) looks for helpers.")
    var directory = "/sbin"

    func run() async throws {
        try await reportingFailure {
            let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
            let link = directory + "/" + MountHelper.name
            // No readable symbolic link there: nothing of ours to remove.
            if let existing = try? FileManager.default.destinationOfSymbolicLink(atPath: link) {
                if existing == binary {
                    print("\(link) already points to \(binary)")
                    return
                }
                try FileManager.default.removeItem(atPath: link)
            } else if FileManager.default.fileExists(atPath: link) {
                throw FileSystemError(.exists, "\(link) exists and is not a symbolic link; remove it first")
            }
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: binary)
            print("\(link) -> \(binary)")
        }
    }
}

/// The mount(8) helper calling convention: `mount.mortar SPEC DIR [-sfnv] [-N NS] [-o OPTIONS] [-t TYPE]`.
enum MountHelper {
    static let name = "mount.mortar"

    enum Plan: Equatable {
        /// Run `mortar` with these arguments.
        case run([String])
        /// `-f` (fake): mount(8) asks the helper to do everything but the mount.
        case nothing
    }

    static func plan(_ arguments: [String]) throws -> Plan {
        var positional: [String] = []
        var options: [String] = []
        var fake = false
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            switch argument {
            case "-o":
                guard let list = remaining.popFirst() else { throw FileSystemError.invalidArgument("-o needs options") }
                options.append(list)
            case "-t", "-N":
                guard remaining.popFirst() != nil else { throw FileSystemError.invalidArgument("\(argument) needs a value") }
            case "-f": fake = true
            case "-s", "-n", "-v", "-r", "-w": break  // sloppy, no mtab, verbose: nothing to do; -r/-w via -o
            default:
                if argument.hasPrefix("-o"), argument.count > 2 {
                    options.append(String(argument.dropFirst(2)))
                } else if argument.hasPrefix("-") {
                    throw FileSystemError.invalidArgument("\(name): unknown flag \(argument)")
                } else {
                    positional.append(argument)
                }
            }
        }
        guard positional.count == 2 else {
            throw FileSystemError.invalidArgument("usage: \(name) HOST:/VOLUME MOUNTPOINT [-o OPTIONS]")
        }
        if fake { return .nothing }
        return .run(["mount"] + options.flatMap { ["-o", $0] } + positional)
    }
}
