import Testing

@testable import MortarDaemon

/// The query string of a management request: whatever a client sends parses into names and values, never a trap
/// (a `?=` once took the daemon down before any authorization).
@Suite("Management query strings")
struct ManagementQueryTests {
    @Test(arguments: ["", "=", "&", "=x", "&=", "a==b", "a=&=b", "kind=read&count=5", "==&&==", "a", "=&a=1"])
    func everyQueryParses(text: String) {
        let values = Router.query(Substring(text))
        #expect(!values.keys.contains(""), "\(text) gave an empty name: \(values)")
        if text == "kind=read&count=5" { #expect(values == ["kind": "read", "count": "5"]) }
        if text == "a==b" { #expect(values == ["a": "=b"]) }
        if text == "=&a=1" { #expect(values == ["a": "1"]) }
    }
}
