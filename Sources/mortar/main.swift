import MortarCommands

// Swift concurrency keeps its own pool; NIO keeps its event loops. Running tasks on the event loops instead
// (NIOSingletons' executor take-over) was measured and rejected: 4 KiB random reads at queue depth 32 fell from
// about 24k to 12k IOPS on two cores, because request handling and socket I/O then compete for the same two
// threads. See the foundation issue's closing note.
await MortarCommand.runFromCommandLine()
