/// Every bound in Mortar, in one place. Names end in `Max` or `Min`; units are in the name.
///
/// Queues, caches, frames and retries take their bounds from here so that a reviewer can see, in one file, how
/// much memory or time any part of the system may use. `CoreValueTests.limitRelations` (MortarCoreTests) checks the
/// relations between them.
public enum Limits {
    /// Largest payload a single read or write request carries. Larger application I/O is split into chunks of this
    /// size that are pipelined in parallel.
    public static let ioByteCountMax = 1 << 20
    /// Read-ahead (the library's `ReadAheadWindow`): the first window of a sequential reader, the largest (it
    /// doubles up to this while the reader stays sequential), what every open file of one volume may hold
    /// together, and how old a window may be before it is fetched again (how late another client's write can be
    /// seen by a sequential reader here).
    public static let readAheadInitialByteCount = 256 << 10
    public static let readAheadByteCountMax = 8 << 20
    public static let readAheadVolumeByteCountMax = 64 << 20
    public static let readAheadStaleMilliseconds: Int64 = 1_000
    /// Small files (GlusterFS's quick-read): the library opens a file smaller than this with
    /// `FileOperations.openAndRead`, which brings the whole file back with the open, and the reads that follow are
    /// served from it (as from a read-ahead window). Also the most one `openAndRead` may ask for.
    public static let quickReadByteCountMax = 64 << 10
    /// Short-circuit local reads (`FileOperations.grantLocalRead`): grants a brick holds unclaimed at once (each
    /// a descriptor, out of the brick's reserve), the descriptors of granted files one client process holds at
    /// once (each one more descriptor of the application's own; past it, files are read over the connection), how
    /// long a grant waits to be claimed, how long the hand-off socket waits for a client's token or its reply, how
    /// long a client waits for its descriptor (longer, so that one silent client ahead of it in the hand-off's
    /// queue does not make it give up), the backlog of that socket, and the threads of a client process that read
    /// granted files when a read would wait for the disk on a thread that must not block.
    public static let localReadGrantsMax = 128
    public static let localReadDescriptorsMax = 512
    public static let localReadGrantMilliseconds: Int64 = 10_000
    public static let localReadHandoffMilliseconds = 1_000
    public static let localReadClaimMilliseconds = 3_000
    public static let localReadHandoffBacklog = 64
    public static let localReadThreadCount = 8
    /// Write-behind (the library's `WriteBehindWindow`): what one file may have acknowledged to the application
    /// but not yet by a brick, in bytes and in writes, and what a volume's files may have together. A write larger
    /// than a file's window is sent as it comes. The byte bounds are memory the library holds; the write count is
    /// how deep a queue-depth-1 writer's writes are pipelined.
    public static let writeBehindFileByteCountMax = 4 << 20
    public static let writeBehindFileWritesMax = 64
    public static let writeBehindVolumeByteCountMax = 32 << 20
    /// How far past a full-size read a brick (or a client reading a file on its host itself) asks the kernel to
    /// start reading (posix_fadvise WILLNEED).
    public static let brickStreamAdviceByteCount = 4 << 20
    /// Reads up to this size are first tried from the page cache on the brick's event loop (RWF_NOWAIT): copying
    /// them there costs less than the two thread switches of the I/O pool, and larger ones would hold the loop.
    public static let brickCachedReadByteCountMax = 128 << 10
    /// Buffered writes up to this size are made on the brick's event loop: copying them into the page cache costs
    /// less than the two thread switches of the I/O pool (ext4 has no RWF_NOWAIT for buffered writes to ask first).
    public static let brickInlineWriteByteCountMax = 64 << 10
    /// A write on the event loop that takes longer than this (dirty-page throttling, a journal commit, a failing
    /// disk) sends every write through the I/O pool for `brickInlinePauseMilliseconds`: the loop serves every
    /// connection of the brick and must not wait on the disk.
    public static let brickInlineWriteSlowMicroseconds: Int64 = 20_000
    /// A lookup or attribute read on the event loop that takes longer than this (its inode or directory block was
    /// not cached: it waited for the disk) sends metadata requests through the I/O pool for
    /// `brickInlinePauseMilliseconds`, where cold ones run side by side instead of one after another on the loop.
    /// Above this VM's ordinary scheduling stalls of 2-8 ms; below a rotating disk's seek.
    public static let brickInlineMetadataSlowMicroseconds: Int64 = 10_000
    /// How long a lane of inline work (writes, metadata) goes through the I/O pool after one of its pieces was slow.
    public static let brickInlinePauseMilliseconds: Int64 = 10_000
    /// Room for a frame's header and a request's fixed fields next to its data.
    public static let frameHeaderByteCountMax = 64 * 1024
    /// Largest frame either side accepts; a bigger length prefix closes the connection with a logged reason.
    public static let frameByteCountMax = ioByteCountMax + frameHeaderByteCountMax
    /// Largest piece of a write the TLS handler encrypts before the piece goes to the socket (``TLSWriteSplitter``):
    /// small enough that encrypting the next piece overlaps the peer decrypting this one, large enough that the
    /// extra flushes cost little.
    public static let tlsWritePieceByteCount = 64 * 1024
    /// Requests one client connection may have outstanding; further callers wait for a slot.
    public static let requestsInFlightPerConnectionMax = 256
    /// Requests a brick works on at once for one connection; the connection stops reading beyond this.
    public static let serverRequestsInFlightPerConnectionMax = 256
    /// Threads a brick uses for blocking file-system calls.
    public static let brickIOThreadCount = 16
    /// Longest file name component, as on Linux.
    public static let nameByteCountMax = 255
    /// Longest path the client library accepts.
    public static let pathByteCountMax = 4096
    /// Directories a client remembers from its path walks (see the client's `DirectoryEntryCache`), and for how
    /// long: an entry is trusted without a lookup for at most this long, like the kernel's FUSE `entry_timeout`.
    public static let directoryEntryCacheEntriesMax = 4096
    public static let directoryEntryCacheLifetimeMillisecondsMax = 1000
    /// Deepest directory nesting a brick resolves through its handle index.
    public static let directoryDepthMax = 512
    /// Largest extended attribute value and the largest list of names.
    public static let extendedAttributeValueByteCountMax = 64 * 1024
    public static let extendedAttributeNamesByteCountMax = 64 * 1024
    /// Entries one directory page may hold.
    public static let directoryPageEntriesMax = 1024
    /// Directory streams a brick keeps open where a listing page ended, so the next page continues there.
    public static let directoryCursorsMax = 256
    /// Entries a brick reads past to find a listing's position when no stream was kept for it: a cookie beyond
    /// this is refused (EINVAL) instead of costing a scan of the whole directory for one small request.
    public static let directorySkipEntriesMax: UInt64 = 1 << 20
    /// Open files one connection may hold on a brick.
    public static let openFilesPerConnectionMax = 65_536
    /// Open files one brick holds for all its clients together; each is a file descriptor of the brick process.
    public static let openFilesPerBrickMax = 262_144
    /// Client connections one brick serves at once, and from one address (a hypervisor host runs one connection
    /// per guest disk and per mount); a connection beyond either is closed at once with a logged reason. Both are
    /// lowered further when the brick's descriptor limit is small (``DescriptorBudget``).
    public static let brickConnectionsMax = 4096
    public static let brickConnectionsPerAddressMax = 1024
    /// How long a new connection may take to complete its hello before the brick closes it: a connection that
    /// never speaks must not hold a descriptor and a slot.
    public static let helloDeadlineMilliseconds: Int64 = 5_000
    /// Connections open at once that count as a surge: once at most a quarter of such a peak is left, the server
    /// hands the memory the others freed back to the system (`malloc_trim`), after a short delay that lets the
    /// closed connections' tasks finish freeing.
    public static let connectionSurgeMin = 64
    public static let connectionSurgeTrimDelayMilliseconds: Int64 = 200
    /// Descriptors a brick keeps for itself (listening sockets, the brick and index directories, thread pool and
    /// event loops, logs, connections to other members, directory streams) out of its `RLIMIT_NOFILE`.
    public static let brickReservedDescriptors = 512
    /// Directories a brick keeps open after locating them, so the next request in one skips the walk through its
    /// index chain; the brick's descriptor budget gives them a sixteenth of its descriptors, up to this.
    public static let directoryDescriptorsCachedMax = 1_024
    /// Byte-range locks one brick keeps (all clients together), and waiters for a blocking lock.
    public static let locksPerBrickMax = 1_000_000
    public static let lockWaitersPerBrickMax = 4096
    /// Symbolic links the client follows while resolving one path (as Linux's MAXSYMLINKS).
    public static let symbolicLinkFollowsMax = 40
    /// Bricks one volume may have.
    public static let bricksPerVolumeMax = 1024
    /// Changes one volume's layout history may hold (`add-brick`s over its life). Each adds at most a few ranges
    /// per child to every directory's layout, and lookups of files not yet moved try each generation's child.
    public static let layoutChangesMax = 64
    /// Directory layouts a distribute layer keeps computed: one per rotation of the first generation, so at most
    /// that generation's child count (≤ ``bricksPerVolumeMax``).
    public static let layoutsCachedMax = bricksPerVolumeMax
    /// Members one replica set may have. Every write waits for every in-sync member and the primary sends each
    /// change to all the others, so a write's latency is the slowest member's and its network cost grows with
    /// each replica; past five copies that buys almost no durability (any two of five may fail already) and
    /// costs every write.
    public static let replicaCountMax = 5
    /// Highest epoch a replica-set view from another process may carry. Members and clients compute the next and
    /// the previous epoch (`epoch + 1`, `epoch - 1`), so a view from the manager at the edge of `UInt64` would
    /// trap; one epoch per membership change never comes near this.
    public static let replicaEpochMax: UInt64 = 1 << 62
    /// Highest TCP port number; a port from a spec or a management answer beyond it is refused when decoded.
    public static let portNumberMax = 65_535
    /// Length of a volume name.
    public static let volumeNameByteCountMax = 64
    /// FileID → brick placements the distribute layer remembers.
    public static let placementCacheEntriesMax = 1 << 20
    /// How long a client waits to connect to a brick or a manager before the attempt fails.
    public static let connectTimeoutMilliseconds: Int64 = 3_000
    /// How long the client keeps retrying to reach a brick that went away before failing an operation.
    public static let reconnectWindowMilliseconds: Int64 = 8_000
    /// How long a request may wait for its reply before it fails with ETIMEDOUT.
    public static let requestTimeoutMilliseconds: Int64 = 120_000
    /// Longest per-brick request timeout a volume's spec may set (one day): the spec comes from the manager, and
    /// a value near `Int64.max` would overflow when turned into nanoseconds.
    public static let requestTimeoutMillisecondsMax: Int64 = 86_400_000
    /// Restart backoff for a brick process that keeps exiting.
    public static let brickRestartBackoffMinMilliseconds: Int64 = 200
    public static let brickRestartBackoffMaxMilliseconds: Int64 = 10_000
    /// Other daemons a brick may ask when its own is gone (with the catalog on etcd): a few are redundancy enough,
    /// and the list stays short on a brick's command line however many hosts the cluster has.
    public static let brickAlternateManagersMax = 8
    /// Management messages are JSON and small.
    public static let managementMessageByteCountMax = 4 << 20
    /// How long one management request may take, connection included, before the client gives up.
    public static let managementRequestTimeoutMilliseconds: Int64 = 30_000
    /// A read asked of several daemons goes to the next one when the one asked has not answered within this (see
    /// `ManagementClient`): a daemon answers a read in milliseconds, a host cut off from the network never does.
    public static let managementHedgeMilliseconds: Int64 = 300
    /// Management connections a daemon serves at once; a connection beyond it is closed with a logged reason.
    public static let managementConnectionsMax = 256
    /// Management connections one peer address may hold at once, so one misbehaving client cannot take every slot.
    public static let managementConnectionsPerPeerMax = 64
    /// How long a management connection may take to send its whole request (requests are small: a client that
    /// trickles one in is closed, not waited for).
    public static let managementRequestReadMilliseconds: Int64 = 5_000
    /// Backup management servers a mount is given (`backup_servers=`).
    public static let backupServersMax = 8
    /// etcd client URLs one daemon is given (`--etcd`); a cluster runs 3 or 5 members.
    public static let etcdEndpointsMax = 9
    /// How long one request to etcd may take before the next member is tried; the whole call fails after every
    /// member was tried once. A member without a leader refuses at once (the client requires one), so this bounds
    /// a leader that cannot reach its quorum and a member whose disk is slow: an admin command without quorum fails
    /// within seconds naming etcd, and a loaded machine's etcd (its fsync can take seconds) is still waited for.
    public static let etcdRequestTimeoutMilliseconds: Int64 = 5_000
    /// The same for what a failover waits on (membership changes, the manager role's lease): while etcd replaces a
    /// lost leader, a request can hang on a member that has not noticed yet, and the next member should be asked
    /// well before the 5 s above. etcd answers these in milliseconds otherwise.
    public static let etcdUrgentRequestTimeoutMilliseconds: Int64 = 1_500
    /// How long `mortar up` waits for the etcd it starts to accept its first write. Alone that takes under a
    /// second; on a machine busy with other work it has taken tens of seconds, and giving up early leaves an etcd
    /// running that the next `mortar up` would find half-started. Progress is printed every 10 s.
    public static let embeddedEtcdStartSeconds: Int64 = 90
    /// Largest catalog written to etcd: its JSON, base64-encoded, must fit etcd's default request limit (1.5 MiB).
    public static let etcdCatalogByteCountMax = 1 << 20
    /// Largest reply read from etcd (the catalog is one value; etcd's own request limit is 1.5 MiB).
    public static let etcdReplyByteCountMax = 4 << 20
    /// How many times a catalog change is recomputed and retried when another daemon changed the catalog between
    /// its read and its transaction.
    public static let catalogTransactionAttemptsMax = 16
    /// How long a daemon's heartbeats use the catalog they last read from etcd before reading it again (requests
    /// always read it afresh).
    public static let catalogCacheMilliseconds: Int64 = 100
    /// The lease behind the manager role: a daemon that stops renewing it loses the role within this, and another
    /// takes it over. Short, because membership changes wait for a manager (see ``replicaSilenceMaxMilliseconds``).
    public static let managerLeaseSeconds: Int64 = 2
    /// How long one etcd member gets to renew that lease before the next member is asked. Renewals are answered by
    /// etcd's leader from memory, in milliseconds; one that waits is usually stuck behind a leader that just died,
    /// and the renewal must reach the new leader well within the lease (a member each at the general etcd timeout
    /// would outlast it three times over).
    public static let managerRenewTimeoutMilliseconds: Int64 = 500
    /// How often a daemon that starts before etcd answers says it is still waiting.
    public static let etcdStartupNoticeMilliseconds: Int64 = 5_000
    /// How often the holder renews its lease, and a candidate retries the campaign.
    public static let managerRenewMilliseconds: Int64 = 500
    /// How often a brick asks the manager for its volume's options (`volume set` reaches bricks within this).
    public static let volumeOptionsPollMilliseconds: Int64 = 1_000
    /// How often a daemon or brick not holding the catalog asks the manager for revoked certificates: a
    /// `mortar cert revoke` shuts a certificate out of every process, existing connections included, within this.
    public static let revocationPollMilliseconds: Int64 = 1_000
    /// Longest name a certificate may carry (its common name).
    public static let certificateNameByteCountMax = 64
    /// Certificates a cluster may have revoked; a revocation beyond this is refused (issue a new CA instead).
    public static let revokedCertificatesMax = 65_536
    /// How long a stopping brick may take to exit after SIGTERM before it gets SIGKILL.
    public static let brickStopGraceMilliseconds: Int64 = 5_000
    /// How long a daemon waits for a brick it finds running (left by an earlier daemon) to accept a connection
    /// before it stops that brick and starts a new one: a brick started just before the earlier daemon died may
    /// still be loading its handle index.
    public static let brickAdoptionProbeMilliseconds: Int64 = 15_000
    /// The longest command line read from `/proc/PID/cmdline` when looking for running bricks; longer ones are not
    /// bricks (a brick's arguments are a few hundred bytes plus its volume options).
    public static let commandLineByteCountMax = 256 * 1024

    // MARK: The FUSE mount
    /// Kernel requests a mount works on at once; the thread that reads the next request waits for a free slot
    /// beyond this, which stops the kernel's queue from growing without bound in our memory.
    public static let mountRequestsInFlightMax = 256
    /// Inodes the mount remembers for the kernel (it forgets them as its own cache shrinks); a lookup beyond this
    /// fails with ENFILE rather than growing the table without bound.
    public static let mountInodesMax = 4_000_000
    /// Open files and directories the mount keeps for the kernel at once (EMFILE beyond).
    public static let mountOpenHandlesMax = 1_000_000
    /// Extended attributes (file and name) the mount remembers as absent (the kernel asks for some all the time).
    public static let mountAbsentAttributeEntriesMax = 65_536
    /// Threads libfuse may start to read kernel requests; each only decodes a request and hands it on.
    public static let mountThreadsMax = 8
    /// How long an unmount waits for requests still in flight before it tears the session down anyway.
    public static let mountDrainMilliseconds: Int64 = 5_000
    /// How often a blocking lock request (F_SETLKW, flock without LOCK_NB) tries again while the range is held,
    /// at first and at most: it polls so that a signal can interrupt it and no brick keeps a waiter nobody wants.
    public static let mountLockRetryMinMilliseconds: Int64 = 5
    public static let mountLockRetryMaxMilliseconds: Int64 = 500

    // MARK: Replication

    /// How long a member waits for news of a newer epoch that a request already carries, before refusing it as
    /// stale. The manager pushes a new view to every member at once, so this only covers delivery delay.
    public static let replicaEpochWaitMilliseconds: Int64 = 2_000
    /// How long a client keeps asking for a newer view (and retrying) after a member failed, before giving up
    /// with the error. Failure detection plus a new epoch takes about `replicaSilenceMaxMilliseconds`.
    public static let replicaFailoverWindowMilliseconds: Int64 = 15_000
    /// The manager checks every member of a replicated volume this often…
    public static let replicaHeartbeatIntervalMilliseconds: Int64 = 500
    /// …waits this long for each answer (a loaded machine answers late; late is not dead)…
    public static let replicaHeartbeatTimeoutMilliseconds: Int64 = 1_500
    /// …sends the next heartbeat on time while earlier ones still wait, up to this many per member (the timeout
    /// over the interval), so a silent member's misses come at the interval's pace…
    public static let replicaHeartbeatsInFlightMax = 3
    /// …and takes a member out of its set once it has not answered for this long, over at least
    /// `replicaHeartbeatMissesMax` failed heartbeats: about 2.5–3 s for a silent host, well inside the 5 s in which
    /// I/O must resume and far from GlusterFS's 42 s ping timeout. (A dead process is usually noticed sooner: the
    /// primary that fails to reach it reports it.)
    public static let replicaSilenceMaxMilliseconds: Int64 = 2_500
    public static let replicaHeartbeatMissesMax = 2
    /// The silence after which a member is taken out when that would leave its set fewer in-sync members than it
    /// needs to accept changes. Taking it out gains no write (the set turns read-only until a heal) and loses the
    /// set if the member was only slow, so it gets longer; a member that really died is usually taken out sooner
    /// by the primary whose forward to it fails.
    public static let replicaQuorumSilenceMaxMilliseconds: Int64 = 10_000
    /// How long a member of a replica set may take to answer before it is treated as failed (a hung member
    /// must cost a failover, not the two minutes a lone brick is given).
    public static let replicaRequestTimeoutMilliseconds: Int64 = 15_000
    /// How long a primary waits for another member to apply a forwarded change before it reports the member
    /// failed. Shorter than a client's wait, so a member cut off mid-change costs a failover, not the client's
    /// whole window.
    public static let replicaForwardTimeoutMilliseconds: Int64 = 5_000
    /// A client request to a replica set's member that has taken this long starts watching the set's view: a member
    /// cut off from the network keeps the request until its timeout (`replicaRequestTimeoutMilliseconds`) unless a
    /// newer view, in which another member serves it, ends the wait first.
    public static let replicaViewWatchGraceMilliseconds: Int64 = 1_000
    /// How often a call whose reply is overdue by its ``ReplyWatch``'s grace has the watch checked again.
    public static let replyWatchRecheckMilliseconds: Int64 = 250
    /// How long a client waits for a newer view after a member failed before it sends the request again anyway.
    public static let replicaRetryPauseMilliseconds: Int64 = 300
    /// How often a client or brick that waits for a newer replica-set view asks the manager for it.
    public static let membershipPollMilliseconds: Int64 = 100
    /// How often at most a client asks the manager for its volume's spec because a name was found on no brick it
    /// knows (another client may have grown the volume): misses within this share the last answer.
    public static let specRefreshMilliseconds: Int64 = 1000
    /// How long a client waits, in all, for a file a rebalance has fenced (``FileSystemError/Code/beingMoved``)
    /// before the operation fails with ETIMEDOUT, and how long it pauses between tries. A fence is held for the
    /// few exchanges of the final switch, so the wait is normally one pause.
    public static let migrationWaitMilliseconds: Int64 = 30_000
    public static let migrationRetryPauseMilliseconds: Int64 = 20
    /// Copies a rebalance makes of one file that keeps changing under it before it leaves the file for later.
    public static let migrationAttemptsMax = 3
    /// Files one brick keeps fenced for moves at once (every rebalance connection together).
    public static let migrationFencesPerBrickMax = 1024
    /// How long a file counts as open after the connection that held it open closed (its client reconnects and
    /// reopens it there), and how many such files a brick remembers (past it, the oldest expired ones go first and
    /// the rest are not remembered: a rebalance then may move one while its client reconnects).
    public static let migrationReopenGraceMilliseconds: Int64 = 60_000
    public static let migrationDroppedOpensMax = 100_000
    /// Files a rebalance moves at once: `cluster.rebal-throttle` lazy (one, pausing as long as each move took),
    /// normal and aggressive.
    public static let rebalanceFilesInFlight = (lazy: 1, normal: 2, aggressive: 4)
    /// Entries of one directory a rebalance holds while it crawls it (names sorted, so a resume knows what it did).
    public static let rebalanceDirectoryEntriesMax = 1_000_000
    /// Files a rebalance run keeps to try again after its crawl (skipped because open or changing), the rounds it
    /// tries them and the pause before each round.
    public static let rebalanceRetriesMax = 10_000
    public static let rebalanceRetryRounds = 3
    public static let rebalanceRetryPauseMilliseconds: Int64 = 1000
    /// How often a running rebalance stores its cursor and counters in the catalog (and after every directory).
    public static let rebalanceProgressMilliseconds: Int64 = 1000
    /// Separate changed ranges a heal record keeps per file; past it the whole file is copied (a random-write
    /// storm would otherwise grow the record without bound).
    public static let healRangesPerFileMax = 1_024
    /// Changes one heal note or settle request carries (about 75 bytes each encoded), so one fits well within
    /// `extendedAttributeValueByteCountMax`; more go in several.
    public static let healNoteChangesMax = 256
    /// Size past which a member's heal marker log (`.mortar/heal/MEMBER.log`) is rewritten with only its live
    /// markers.
    public static let healMarkerLogCompactBytes = 1 << 20
    /// Bytes one heal copy moves per request, and heal copies in flight per heal source: heal takes its share of
    /// the disk and the network, never all of it.
    public static let healChunkByteCount = 1 << 20
    public static let healCopiesInFlightMax = 2

    // MARK: Metrics

    /// The largest metrics scrape the daemon assembles from itself and its bricks; a brick whose text would take
    /// it past this is left out of the scrape (and counted as a failed scrape).
    public static let metricsExpositionByteCountMax = 8 << 20
    /// How long the daemon waits for one brick's metrics during a scrape; a brick slower than this is left out.
    public static let metricsBrickScrapeMilliseconds: Int64 = 2_000

    // MARK: Profile, top, clients

    /// Operations in one interval of a brick's profile (the protocol has fewer).
    public static let profileOperationsMax = 128
    public static let profileOperationNameByteCountMax = 64
    /// Files a `volume top` reports per brick (`--count`), and the most a brick sends.
    public static let profileTopCountMax = 100
    /// Files per brick `volume top` reports without `--count`.
    public static let profileTopCountDefault = 10
    /// Files a brick's profiler follows per kind of `top`. When the table is full the less busy half is dropped,
    /// so a file that turns hot later still gets in; counts are exact from the time a file entered.
    public static let profileTopTrackedMax = 2048
    /// Names the profiler remembers from lookups and creates, to put a path on its hottest files; forgotten all at
    /// once when full.
    public static let profileNamesRememberedMax = 8192
    /// Connections a brick lists for `volume status VOL clients` (the busiest; the total is reported too).
    public static let brickClientsReportedMax = 1024
    public static let clientAddressByteCountMax = 128
    /// How long the daemon waits for one brick's profile, top or client list; a brick slower than this is
    /// reported as not answering.
    public static let brickDiagnosticsMilliseconds: Int64 = 5_000
    /// How long `volume profile VOL start` waits for every running brick to start counting (bricks follow the
    /// volume's options every `volumeOptionsPollMilliseconds`).
    public static let profileStartWaitMilliseconds: Int64 = 30_000
    /// How often `volume profile VOL start|stop` asks whether every brick has followed.
    public static let profileStartPollMilliseconds: Int64 = 200
    /// Bricks the daemon asks at once for a profile, top or client list (each a connection of its own).
    public static let brickDiagnosticsConcurrencyMax = 32
}
