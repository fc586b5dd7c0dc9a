import ArgumentParser
import Foundation
import MortarCore
import MortarManagementAPI
import MortarSecurity

/// `mortar cert init|issue|list|revoke`: the cluster's certificate authority. The CA's key stays in one directory
/// on one host (`--ca-dir`); certificates it issues are copied to where they are used.
struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert", abstract: "Manage the cluster's certificate authority and certificates.",
        discussion: """
            Every connection of a cluster is mutual TLS with certificates of its CA. A certificate's role says what \
            its holder may do: host (a daemon and its bricks), admin (change the cluster), client (I/O and \
            read-only management). Clients read glusterfs.pem, glusterfs.key and glusterfs.ca from $MORTAR_TLS_DIR, \
            ~/.config/mortar/tls, /etc/ssl or /usr/lib/ssl.
            """,
        subcommands: [Init.self, Issue.self, List.self, Revoke.self])

    static let defaultAuthorityDirectory = "/var/lib/mortar/ca"

    struct AuthorityOptions: ParsableArguments {
        @Option(help: "The CA's directory (default: \(CertCommand.defaultAuthorityDirectory)).")
        var caDir: String = CertCommand.defaultAuthorityDirectory

        var directory: String { absolutePath(caDir) }
    }

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init", abstract: "Create the cluster's CA (a new key and self-signed certificate).")
        @OptionGroup var authority: AuthorityOptions
        @Option(help: "The CA's name.") var name: String = "mortar-cluster-ca"

        func run() async throws {
            try await reportingFailure {
                let ca = try CertificateAuthority.create(directory: authority.directory, name: name)
                print("Created the CA \(name) in \(ca.directory) (keep ca.key there; it signs every certificate).")
            }
        }
    }

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "issue", abstract: "Issue a certificate and write glusterfs.pem, glusterfs.key and glusterfs.ca.")
        @OptionGroup var authority: AuthorityOptions
        @Argument(help: "The certificate's name (a host's name, a user, an application).") var name: String
        @Option(help: "admin, host or client.") var role: String = "client"
        @Flag(help: "Shorthand for --role admin.") var admin = false
        @Option(help: "Days the certificate stays valid.") var days: Int = CertificateAuthority.defaultValidityDays
        @Option(help: "Directory to write the credentials to (made if missing, mode 0700).") var out: String
        @Option(help: "More names the certificate carries, comma-separated host names and IP addresses (a host's addresses, for tools that check them).")
        var san: String = ""
        @Flag(help: "Overwrite credentials already in --out (a certificate issued again in place).") var replace = false

        func run() async throws {
            try await reportingFailure {
                let chosen = admin ? "admin" : role
                guard let role = CertificateRole(rawValue: chosen) else {
                    throw FileSystemError.invalidArgument("--role must be admin, host or client, not '\(chosen)'")
                }
                let ca = try CertificateAuthority.open(directory: authority.directory)
                let alternativeNames = san.split(separator: ",").map(String.init).filter { !$0.isEmpty }
                let issued = try ca.issue(
                    name: name, role: role, validityDays: days, output: absolutePath(out),
                    alternativeNames: alternativeNames, replace: replace)
                print("Issued \(role) certificate \(name) (serial \(issued.serial)) into \(absolutePath(out)).")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List the certificates the CA issued.")
        @OptionGroup var authority: AuthorityOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingFailure {
                let issued = try CertificateAuthority.open(directory: authority.directory).issued()
                if json { return try printJSON(issued) }
                print(CertFormatting.table(issued, now: Date()), terminator: "")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke", abstract: "Revoke every certificate issued to a name, in the CA and the cluster.",
            discussion: "Every daemon and brick refuses the certificate within about a second and closes its connections.")
        @OptionGroup var authority: AuthorityOptions
        @OptionGroup var options: ManagerOptions
        @Argument(help: "The certificate's name.") var name: String

        func run() async throws {
            try await reportingFailure {
                let ca = try CertificateAuthority.open(directory: authority.directory)
                let doomed = try ca.issued().filter { $0.name == name && !$0.revoked }
                guard !doomed.isEmpty else {
                    _ = try ca.revoke(name: name)  // throws the reason: never issued, or revoked already
                    return
                }
                // The cluster first: a revocation the cluster did not take is not recorded as done.
                let serials = Dictionary(doomed.map { ($0.serial, $0.name) }) { first, _ in first }
                _ = try await options.client().revokeCertificates(serials)
                _ = try ca.revoke(name: name)
                print("Revoked \(doomed.count) certificate(s) of \(name): \(doomed.map(\.serial).joined(separator: ", ")).")
            }
        }
    }
}

enum CertFormatting {
    static func table(_ issued: [IssuedCertificate], now: Date) -> String {
        var text = "NAME                             ROLE    EXPIRES      STATE     SERIAL\n"
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.timeZone = TimeZone(identifier: "UTC")
        for entry in issued {
            let expiry = Date(timeIntervalSince1970: TimeInterval(entry.notValidAfter))
            let state = entry.revoked ? "revoked" : expiry < now ? "expired" : "valid"
            text += entry.name.padding(toLength: 32, withPad: " ", startingAt: 0) + " "
                + entry.role.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0) + " "
                + formatter.string(from: expiry) + "   " + state.padding(toLength: 9, withPad: " ", startingAt: 0)
                + " " + entry.serial + "\n"
        }
        return text
    }
}
