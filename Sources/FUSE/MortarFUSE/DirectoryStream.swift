import MortarCore

/// One open directory on the mount: turns the kernel's readdir offsets into the volume's page cookies.
///
/// The kernel asks for "entries from offset N" with a buffer of a few KiB, and remembers, for each entry it got,
/// the offset of the one after it. The volume lists a directory in pages of up to
/// `Limits.directoryPageEntriesMax` entries, with one cookie per page. So the stream numbers entries itself
/// (offset 1 is `.`, 2 is `..`, entry k of the listing is k + 3), keeps the page it read last, and remembers the
/// cookie of every page start so that a `seekdir` back to an old offset reads just that page again.
actor DirectoryStream {
    let directory: FileID
    private let fileOperations: any FileOperations
    private var page: [DirectoryEntry] = []
    /// Listing index of `page[0]`.
    private var pageStart = 0
    /// Cookie that continues after `page`; nil once the listing is complete.
    private var nextCookie: UInt64? = 0
    /// Cookie of each page start that was read, by listing index (index 0 has cookie 0).
    private var cookies: [Int: UInt64] = [0: 0]
    private var hasPage = false
    /// The mount's change count when `page` was read.
    private var pageGeneration: UInt64?

    /// Offsets of the two entries every listing starts with.
    static let dotCount = 2

    init(directory: FileID, fileOperations: any FileOperations) {
        self.directory = directory
        self.fileOperations = fileOperations
    }

    /// Entries from listing index `index` on, as many as the stream has at hand (at least one unless the listing
    /// has ended). `generation` names the changes made through the mount so far (nil: one is running): a page
    /// read under another is read again, because its attributes may be older than ones the kernel has seen since,
    /// and the kernel would take them as newer (readdirplus).
    func entries(from index: Int, generation: UInt64?, context: OperationContext) async throws
        -> ArraySlice<DirectoryEntry>
    {
        let cached = hasPage && index >= pageStart && index < pageStart + page.count
        if cached, let generation, pageGeneration == generation {
            return page[(index - pageStart)...]
        }
        try await load(containing: index, rereading: cached, context: context)
        pageGeneration = generation
        let offset = index - pageStart
        guard offset >= 0, offset < page.count else { return [] }
        return page[offset...]
    }

    /// Reads pages until the one holding `index` (or the end of the listing). With `rereading`, the page that holds
    /// `index` is read again from its start.
    private func load(containing index: Int, rereading: Bool, context: OperationContext) async throws {
        if rereading {
            nextCookie = cookies[pageStart]
            page = []
            hasPage = false
        }
        // Continue forward from the current page when that is where `index` lies; else start from the nearest
        // remembered page start at or before it.
        if !(hasPage && index >= pageStart + page.count) {
            let start = cookies.keys.filter { $0 <= index }.max() ?? 0
            pageStart = start
            page = []
            nextCookie = cookies[start]
            hasPage = false
        }
        while true {
            if hasPage {
                guard index >= pageStart + page.count else { return }
                guard nextCookie != nil else { return }
                pageStart += page.count
            }
            guard let cookie = nextCookie else { return }
            let read = try await fileOperations.readDirectory(
                directory, after: cookie, countMax: Limits.directoryPageEntriesMax, context: context)
            page = read.entries
            nextCookie = read.nextCookie
            hasPage = true
            cookies[pageStart] = cookie
            if page.isEmpty, nextCookie == nil { return }
        }
    }
}
