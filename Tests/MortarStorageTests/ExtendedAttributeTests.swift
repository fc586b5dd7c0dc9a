import MortarCore
import MortarPosixStorage
import Testing

@Suite("Extended attributes")
struct ExtendedAttributeTests {
    @Test func roundTripOnFilesDirectoriesAndModes() async throws {
        try await TestBrick.with { brick in
            let file = try await brick.createFile("tagged").attributes.id
            let directory = try await brick.makeDirectory("tagged-dir").id
            for id in [file, directory] {
                try await brick.storage.setExtendedAttribute(
                    "user.color", to: Array("blue".utf8), mode: .createOrReplace, of: id, context: brick.context)
                #expect(try await brick.storage.extendedAttribute("user.color", of: id, context: brick.context)
                    == Array("blue".utf8))
                #expect(try await brick.storage.extendedAttributeNames(of: id, context: brick.context) == ["user.color"])
                await expectError(.exists) {
                    try await brick.storage.setExtendedAttribute(
                        "user.color", to: [1], mode: .createOnly, of: id, context: brick.context)
                }
                await expectError(.noData) {
                    try await brick.storage.setExtendedAttribute(
                        "user.shape", to: [1], mode: .replaceOnly, of: id, context: brick.context)
                }
                try await brick.storage.setExtendedAttribute(
                    "user.empty", to: [], mode: .createOnly, of: id, context: brick.context)
                #expect(try await brick.storage.extendedAttribute("user.empty", of: id, context: brick.context) == [])
                try await brick.storage.removeExtendedAttribute("user.color", of: id, context: brick.context)
                await expectError(.noData) {
                    try await brick.storage.extendedAttribute("user.color", of: id, context: brick.context)
                }
            }
        }
    }

    @Test func brickAttributesAreReservedAndHidden() async throws {
        try await TestBrick.with { brick in
            let file = try await brick.createFile("private").attributes.id
            #expect(try await brick.storage.extendedAttributeNames(of: file, context: brick.context).isEmpty)
            let name = "trusted.mortar.id"
            await expectError(.operationNotPermitted) {
                try await brick.storage.extendedAttribute(name, of: file, context: brick.context)
            }
            await expectError(.operationNotPermitted) {
                try await brick.storage.setExtendedAttribute(name, to: [1], mode: .createOrReplace, of: file,
                                                             context: brick.context)
            }
            await expectError(.operationNotPermitted) {
                try await brick.storage.removeExtendedAttribute(name, of: file, context: brick.context)
            }
            await expectError(.argumentListTooLong) {
                try await brick.storage.setExtendedAttribute(
                    "user.big", to: Array(repeating: 0, count: Limits.extendedAttributeValueByteCountMax + 1),
                    mode: .createOrReplace, of: file, context: brick.context)
            }
        }
    }
}
