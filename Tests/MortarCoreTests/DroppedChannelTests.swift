import MortarCore
import NIOCore
import NIOEmbedded
import Testing

/// A connection NIO hands to nobody (accepted while the listener closes, or failed after its initializer ran) must
/// not stop the process.
@Suite("Dropped async channels")
struct DroppedChannelTests {
    @Test("a wrapper dropped before anyone served it does not trap, and its channel still closes normally")
    func aDroppedWrapperDoesNotTrap() throws {
        let channel = EmbeddedChannel()
        do {
            // As in a server's child-channel initializer: wrapped before the channel is active. NIO keeps its own
            // reference to the writer until `channelActive` and gives it up then, as it hands the connection over.
            let wrapper = try NIOAsyncChannel<ByteBuffer, ByteBuffer>.finishingWhenDropped(channel)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 24007)).wait()
            #expect(channel.isActive)
            // Dropped open and unserved, as when the listener closes first. With `init(wrappingChannelSynchronously:)`
            // this scope's end stops the test process: "Deinited NIOAsyncWriter without calling finish()".
            _ = wrapper
        }
        channel.embeddedEventLoop.run()
        try channel.close().wait()
        #expect(!channel.isActive)
    }
}
