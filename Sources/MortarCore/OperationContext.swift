import Logging

/// Who asks for an operation, carried with every call through the layer stack (instead of an untyped bag).
public struct OperationContext: Sendable {
    /// The caller's identity; bricks create files owned by it.
    public var userID: UInt32
    public var groupID: UInt32
    public var supplementaryGroupIDs: [UInt32]
    public var processID: Int32
    /// Set by the brick server: the connection the request came on, which scopes open files and locks.
    public var connectionID: UInt64
    /// Replicated volumes: the epoch the sender believes in and who sent it (``ReplicationStamp/none`` otherwise).
    public var replication: ReplicationStamp
    public var logger: Logger
    /// What the connection does when the reply is slow (``ReplyWatch``); never sent to a brick.
    public var replyWatch: ReplyWatch?

    public init(
        userID: UInt32 = 0, groupID: UInt32 = 0, supplementaryGroupIDs: [UInt32] = [], processID: Int32 = 0,
        connectionID: UInt64 = 0, replication: ReplicationStamp = .none,
        logger: Logger = OperationContext.silentLogger
    ) {
        self.replication = replication
        self.userID = userID
        self.groupID = groupID
        self.supplementaryGroupIDs = supplementaryGroupIDs
        self.processID = processID
        self.connectionID = connectionID
        self.logger = logger
    }

    /// A logger that drops everything, for callers that do not pass one.
    public static let silentLogger = Logger(label: "mortar.silent", factory: { _ in SwiftLogNoOpLogHandler() })
}
