import MortarCore
import MortarMembership
import MortarTesting
import Testing

/// What a heal copies onto the healing member.
enum HealModel: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Everything the heal source holds. Checks the rules that decide who is in sync, but no heal can miss a write.
    case fullCopy
    /// What a real heal copies: everything only for a full resync; otherwise only what the heal source's record of
    /// the member's absence holds — the writes made from the epoch in which the member was last in sync (the one
    /// whose forward failed, if that was why it left). A witness or full-resync decision that is wrong loses writes
    /// here, so this model checks the witness rules too.
    case recordedChanges

    var description: String { rawValue }
}

/// How often each kind of step ran and what it found, so a test can insist that the rules were exercised.
struct SimulationCounts {
    var steps = 0
    var acknowledgedWrites = 0
    var refusedWrites = 0
    var forwardFailures = 0
    /// Failures reported after another report of the same write ended the write's epoch.
    var lateFailureReports = 0
    var heals = 0
    var fullResyncHeals = 0
    var lastMemberKept = 0
    var replacements = 0
    var refusedReplacements = 0
    var staleMessagesRefused = 0
    var forgedReportsRefused = 0

    static func + (left: SimulationCounts, right: SimulationCounts) -> SimulationCounts {
        SimulationCounts(
            steps: left.steps + right.steps,
            acknowledgedWrites: left.acknowledgedWrites + right.acknowledgedWrites,
            refusedWrites: left.refusedWrites + right.refusedWrites,
            forwardFailures: left.forwardFailures + right.forwardFailures,
            lateFailureReports: left.lateFailureReports + right.lateFailureReports,
            heals: left.heals + right.heals,
            fullResyncHeals: left.fullResyncHeals + right.fullResyncHeals,
            lastMemberKept: left.lastMemberKept + right.lastMemberKept,
            replacements: left.replacements + right.replacements,
            refusedReplacements: left.refusedReplacements + right.refusedReplacements,
            staleMessagesRefused: left.staleMessagesRefused + right.staleMessagesRefused,
            forgedReportsRefused: left.forgedReportsRefused + right.forgedReportsRefused)
    }
}

/// What one step of the simulation did.
enum SimulationAction: CustomStringConvertible {
    case kill(Int)
    case cutPower(Int, Int)
    case restart(Int)
    case replace(Int)
    case write(Int, primary: Int)
    case refusedWrite
    case heal(Int, source: Int, fullResync: Bool)
    case deliver(MembershipEvent, late: Bool)
    case settle

    var description: String {
        switch self {
        case .kill(let member): return "kill \(member)"
        case .cutPower(let first, let second): return "power cut: \(first) and \(second)"
        case .restart(let member): return "restart \(member)"
        case .replace(let member): return "replace \(member) with an empty brick"
        case .write(let write, let primary): return "write \(write) through primary \(primary)"
        case .refusedWrite: return "write refused"
        case .heal(let member, let source, let fullResync):
            return "heal \(member) from \(source)\(fullResync ? " (full resync)" : "")"
        case .deliver(let event, let late): return "\(late ? "late " : "")\(event)"
        case .settle: return "settle: restart all, reachable for all, heal until stable"
        }
    }
}

/// One replica set in a simulated world: member processes that die and restart, the writes each holds, clients that
/// write through the current view, heals, and a manager that applies every event to a ``ReplicaSetMembership``.
/// The invariants of the membership promise are checked after every step; every failure names the seed, the heal
/// model and the step, so the sequence can be replayed.
final class SimulatedReplicaSet {
    let seed: UInt64
    let healModel: HealModel
    var generator: SplitMix64
    var membership: ReplicaSetMembership
    /// Whether each member's process runs.
    var alive: [Bool]
    /// The write ids each member holds (on disk: a restart keeps them, a replaced brick starts empty).
    var applied: [Set<Int>]
    /// For each write id, the epoch of the view it was made in.
    var writeEpochs: [UInt64] = []
    /// Writes a client was told succeeded: every in-sync member must hold each of them, forever.
    var acknowledged: Set<Int> = []
    /// For each member, the epoch in which it was last in sync: where its witnesses' records of what it missed start.
    var lastInSyncEpoch: [UInt64]
    /// Events delivered so far (except replacements), for late and duplicated delivery.
    var pastEvents: [MembershipEvent] = []
    /// The FileIDs clients write to.
    let files: [FileID]
    var counts = SimulationCounts()
    /// Every action so far with the view it started from, for the first failure's message.
    var history: [(step: Int, action: SimulationAction, viewBefore: ReplicaSetView)] = []
    /// The last view whose primaries were checked.
    var viewWithCheckedPrimaries: ReplicaSetView?
    /// How many checks failed so far.
    var failures = 0

    init(seed: UInt64, healModel: HealModel) {
        self.seed = seed
        self.healModel = healModel
        var generator = SplitMix64(seed: seed)
        let memberCount = Int.random(in: 2...5, using: &generator)
        let minInSync = Bool.random(using: &generator)
            ? ReplicaSetView.majority(of: memberCount) : Int.random(in: 1...memberCount, using: &generator)
        membership = ReplicaSetMembership(setIndex: 0, memberCount: memberCount, minInSync: minInSync)
        alive = Array(repeating: true, count: memberCount)
        applied = Array(repeating: [], count: memberCount)
        lastInSyncEpoch = Array(repeating: 0, count: memberCount)
        files = [.root] + (0..<15).map { _ in FileID.random(using: &generator) }
        self.generator = generator
    }

    var memberCount: Int { alive.count }
    var view: ReplicaSetView { membership.view }

    /// Seed, model, step and the current state: enough to replay and to read the failure.
    var context: String {
        "seed \(seed) \(healModel) step \(counts.steps) [\(history.last.map { "\($0.action)" } ?? "start")] "
            + "\(view) alive \(alive) witnesses \(membership.witnesses.map { $0.sorted() }) "
            + "fullResync \(membership.needsFullResync)"
    }

    /// Records what a step does. Only values are kept: describing them (slow) waits for a failure.
    func note(_ action: SimulationAction) {
        history.append((counts.steps, action, view))
    }

    /// Records a failure with the replay context; the first failure of a run also lists the steps that led to it
    /// (the last 300: the seed replays the rest).
    /// Cheaper than `#expect`, which captures its expression even when it holds: these checks run hundreds of
    /// thousands of times (and why the simulation is a class: a closure over a struct copies it).
    func check(_ condition: Bool, _ message: @autoclosure () -> String,
               sourceLocation: SourceLocation = #_sourceLocation) {
        guard !condition else { return }
        failures += 1
        var steps = ""
        if failures == 1 {
            let shown = history.suffix(300)
            steps = "\n\(history.count - shown.count) earlier actions not shown; then (each with the view it started "
                + "from):\n" + shown.map { "\($0.step): \($0.action) [\($0.viewBefore)]" }.joined(separator: "\n")
        }
        Issue.record("\(message()); \(context)\(steps)", sourceLocation: sourceLocation)
    }

    // MARK: Running

    func run(steps: Int) {
        for _ in 0..<steps where failures == 0 {
            counts.steps += 1
            randomStep()
            checkInvariants()
        }
        if failures == 0 { settle() }
    }

    func randomStep() {
        switch Int.random(in: 0..<100, using: &generator) {
        case 0..<35: write()
        case 35..<52: heal()
        case 52..<58: kill()
        case 58..<60: cutPower()
        case 60..<72: restart()
        case 72..<81: reportUnreachable()
        case 81..<90: reportReachable()
        case 90..<96: redeliverPastEvent()
        case 96..<99: forgeCaughtUp()
        default: replace()
        }
    }

    func randomMember() -> Int {
        Int.random(in: 0..<memberCount, using: &generator)
    }

    func kill() {
        guard let member = alive.indices.filter({ alive[$0] }).randomElement(using: &generator) else { return }
        note(.kill(member))
        alive[member] = false
    }

    /// Two members die at once (one power feed, one rack): the next write may find both dead before the failure
    /// detector says anything, and report both.
    func cutPower() {
        let first = randomMember()
        let second = randomMember()
        note(.cutPower(first, second))
        alive[first] = false
        alive[second] = false
    }

    func restart() {
        guard let member = alive.indices.filter({ !alive[$0] }).randomElement(using: &generator) else { return }
        note(.restart(member))
        alive[member] = true
    }

    /// The failure detector notices a dead member (repeatedly, perhaps: duplicates must change nothing).
    func reportUnreachable() {
        guard let member = alive.indices.filter({ !alive[$0] }).randomElement(using: &generator) else { return }
        deliver(.unreachable(member: member))
    }

    func reportReachable() {
        guard let member = alive.indices.filter({ alive[$0] }).randomElement(using: &generator) else { return }
        deliver(.reachable(member: member))
    }

    /// An event delivered again, late: an unreachable for a member that has since restarted, a reachable for one that
    /// has since died, a caught-up or failed-forward report from an old epoch.
    func redeliverPastEvent() {
        guard let event = pastEvents.randomElement(using: &generator) else { return }
        let before = membership
        let outcome = deliver(event, late: true)
        if case .caughtUp = event {
            // Every caught-up report was applied when it was made, which ended its epoch.
            check(!outcome.changed, "a caught-up report was accepted twice")
        }
        if !outcome.changed && membership == before { counts.staleMessagesRefused += 1 }
    }

    /// A caught-up report that no heal produced: from a member that is not the heal source, or tagged with another
    /// epoch. The member holds none of what it missed, so accepting it would make a member in sync that is not.
    func forgeCaughtUp() {
        let member = randomMember()
        let source = randomMember()
        let epoch = [view.epoch - 1, view.epoch, view.epoch + 1].randomElement(using: &generator) ?? view.epoch
        if epoch == view.epoch && membership.healSource(for: member) == source { return }
        let outcome = deliver(.caughtUp(member: member, source: source, epoch: epoch), sent: false)
        check(!outcome.changed, "a forged caught-up report was accepted")
        counts.forgedReportsRefused += 1
    }

    /// A new, empty brick takes a member's place, unless it is the only member holding everything.
    func replace() {
        let member = randomMember()
        note(.replace(member))
        let before = membership
        let onlyInSync = view.members[member] == .inSync && view.inSyncMembers.count == 1
        do {
            let outcome = try membership.apply(.replaced(member: member))
            check(!onlyInSync, "replacing the only in-sync member was allowed")
            checkTransition(from: before, event: .replaced(member: member), outcome: outcome)
            applied[member] = []
            alive[member] = true
            counts.replacements += 1
        } catch {
            check(onlyInSync, "replacing member \(member) was refused: \(error)")
            check(error.code == .busy, "\(error)")
            check(membership == before, "a refused replacement changed the membership")
            counts.refusedReplacements += 1
        }
    }

    /// A client writes one file through the current view. The file's primary applies the write and forwards it; a
    /// dead in-sync target makes the primary report the failure, and the write is acknowledged only once every
    /// member still in sync holds it.
    func write() {
        let file = files.randomElement(using: &generator) ?? .root
        let writeView = view
        guard writeView.isWritable, let primary = writeView.primary(for: file), alive[primary] else {
            note(.refusedWrite)
            counts.refusedWrites += 1
            return
        }
        let write = writeEpochs.count
        note(.write(write, primary: primary))
        writeEpochs.append(writeView.epoch)
        applied[primary].insert(write)
        var failedInSyncTargets: [Int] = []
        for target in writeView.forwardTargets(from: primary) {
            if alive[target] {
                applied[target].insert(write)
            } else if writeView.members[target] == .inSync {
                failedInSyncTargets.append(target)
            }
            // A dead healing target just misses the write; its heal source's record has it.
        }
        for target in failedInSyncTargets {
            counts.forwardFailures += 1
            if view.epoch != writeView.epoch { counts.lateFailureReports += 1 }
            let outcome = deliver(.forwardFailed(member: target, epoch: writeView.epoch))
            check(outcome.changed, "the primary is in sync, so \(target) was not the last")
        }
        let removed = failedInSyncTargets.allSatisfy { view.members[$0] != .inSync }
        let heldByInSync = view.inSyncMembers.allSatisfy { applied[$0].contains(write) }
        if removed && heldByInSync {
            acknowledged.insert(write)
            counts.acknowledgedWrites += 1
        } else {
            counts.refusedWrites += 1
        }
    }

    /// One healing member catches up from its heal source, if both run, and the source reports it.
    func heal() {
        let candidates = view.healingMembers.filter { alive[$0] }
        guard let member = candidates.randomElement(using: &generator) else { return }
        heal(member)
    }

    func heal(_ member: Int) {
        guard let source = membership.healSource(for: member) else {
            check(false, "healing member \(member) has no heal source")
            return
        }
        guard alive[member] && alive[source] else { return }
        let fullResync = membership.needsFullResync[member]
        note(.heal(member, source: source, fullResync: fullResync))
        applied[member].formUnion(copiedByHeal(of: member, from: source, fullResync: fullResync))
        counts.heals += 1
        if fullResync { counts.fullResyncHeals += 1 }
        let outcome = deliver(.caughtUp(member: member, source: source, epoch: view.epoch))
        check(outcome.changed, "the heal source's report was refused")
    }

    func copiedByHeal(of member: Int, from source: Int, fullResync: Bool) -> Set<Int> {
        switch healModel {
        case .fullCopy:
            return applied[source]
        case .recordedChanges:
            if fullResync { return applied[source] }
            let since = lastInSyncEpoch[member]
            return applied[source].filter { writeEpochs[$0] >= since }
        }
    }

    /// Every member runs and is reachable again; heals run until nothing changes. Then every member must be in sync
    /// and hold every acknowledged write.
    func settle() {
        note(.settle)
        for member in alive.indices { alive[member] = true }
        for member in alive.indices { deliver(.reachable(member: member)) }
        for _ in 0..<(memberCount * 2) {
            let healing = view.healingMembers
            if healing.isEmpty { break }
            for member in healing { heal(member) }
        }
        check(view.inSyncMembers.count == memberCount, "not every member caught up")
        for member in alive.indices {
            check(acknowledged.isSubset(of: applied[member]),
                  "member \(member) lacks acknowledged writes \(missing(on: member))")
        }
    }

    // MARK: Delivering events

    /// Applies `event` as the manager would and checks the transition and the invariants.
    ///
    /// `sent`: whether a real party could have sent it, so it may arrive again later (a forged report may not: one
    /// tagged with a future epoch would become current, and no party can know a future epoch).
    @discardableResult
    func deliver(_ event: MembershipEvent, late: Bool = false, sent: Bool = true) -> MembershipOutcome {
        note(.deliver(event, late: late))
        let before = membership
        let outcome: MembershipOutcome
        do {
            outcome = try membership.apply(event)
        } catch {
            check(false, "\(event) threw \(error)")
            return .unchanged("threw")
        }
        if sent { pastEvents.append(event) }
        checkTransition(from: before, event: event, outcome: outcome)
        if case .unchanged(let reason) = outcome, reason.contains("last in-sync member") { counts.lastMemberKept += 1 }
        checkInvariants()
        return outcome
    }

    /// The epoch moves by exactly one when (and only when) the outcome says the view changed; nothing changes
    /// otherwise; at most one member changes state; a member enters the in-sync set only through a caught-up report
    /// from its heal source in the current epoch.
    func checkTransition(from before: ReplicaSetMembership, event: MembershipEvent, outcome: MembershipOutcome) {
        if outcome.changed {
            check(view.epoch == before.view.epoch + 1, "the epoch did not advance by one after \(event) → \(outcome)")
        } else {
            check(membership == before, "an unchanged outcome altered the state after \(event) → \(outcome)")
        }
        check(view.epoch >= before.view.epoch, "the epoch went back after \(event) → \(outcome)")
        let moved = view.members.indices.filter { view.members[$0] != before.view.members[$0] }
        check(moved.count <= 1, "members \(moved) changed state at once after \(event) → \(outcome)")
        for member in moved where view.members[member] == .inSync {
            let expected = MembershipEvent.caughtUp(
                member: member, source: before.healSource(for: member) ?? -1, epoch: before.view.epoch)
            check(event == expected,
                  "member \(member) entered the in-sync set without its heal source's report \(expected)")
        }
        for member in moved where before.view.members[member] == .inSync {
            lastInSyncEpoch[member] = before.view.epoch
        }
    }

    // MARK: Invariants

    /// The acknowledged writes `member` does not hold, with the epoch each was made in.
    func missing(on member: Int) -> String {
        acknowledged.subtracting(applied[member]).sorted().map { "\($0)@epoch\(writeEpochs[$0])" }.joined(separator: " ")
    }

    func checkInvariants() {
        let inSync = view.inSyncMembers
        check(!inSync.isEmpty, "the in-sync set is empty")
        check(view.members.count == memberCount && membership.witnesses.count == memberCount
                && membership.needsFullResync.count == memberCount && membership.joinedEpoch.count == memberCount,
              "the per-member arrays lost their size")
        for member in inSync {
            check(acknowledged.isSubset(of: applied[member]),
                  "in-sync member \(member) lacks acknowledged writes \(missing(on: member))")
            check(membership.witnesses[member].isEmpty, "in-sync member \(member) has witnesses")
            check(!membership.needsFullResync[member], "in-sync member \(member) needs a full resync")
        }
        for member in view.members.indices where view.members[member] != .inSync {
            let witnesses = membership.witnesses[member]
            check(witnesses.isSubset(of: inSync), "witnesses of \(member) not all in sync")
            check(!witnesses.isEmpty || membership.needsFullResync[member],
                  "member \(member) has neither a witness nor a full resync")
        }
        for member in view.healingMembers {
            let source = membership.healSource(for: member)
            check(source.map { inSync.contains($0) } == true,
                  "heal source \(String(describing: source)) of \(member) is not in sync")
        }
        checkPrimaries()
    }

    /// Every file's primary is an in-sync member, and any other holder of an equal view picks the same one.
    /// Primaries are a function of the view alone, so each view is checked once (the check dominates the run).
    func checkPrimaries() {
        guard view != viewWithCheckedPrimaries else { return }
        viewWithCheckedPrimaries = view
        let inSync = view.inSyncMembers
        let othersCopy = ReplicaSetView(
            setIndex: view.setIndex, epoch: view.epoch, members: view.members, minInSync: view.minInSync)
        for file in files {
            let primary = view.primary(for: file)
            check(primary.map { inSync.contains($0) } == true, "primary of \(file) is not in sync")
            check(othersCopy.primary(for: file) == primary, "two holders of one view disagree")
            if let primary {
                let targets = view.forwardTargets(from: primary)
                let expected = view.members.indices.filter { $0 != primary && view.members[$0] != .outOfSync }
                check(targets == expected, "forward targets of \(primary) are \(targets), not \(expected)")
            }
        }
        check(view.namespacePrimary == view.primary(for: .root), "the namespace primary is not the root's primary")
    }
}

@Suite struct MembershipRandomTests {
    static let stepsPerSeed = 600

    @Test(arguments: HealModel.allCases, Array(1...40) as [UInt64])
    func invariantsHoldAfterEveryStep(healModel: HealModel, seed: UInt64) {
        let world = SimulatedReplicaSet(seed: seed, healModel: healModel)
        world.run(steps: Self.stepsPerSeed)
    }

    /// The simulation must actually reach the rules it checks: acknowledged writes, failed forwards (some reported
    /// late), heals of both kinds, a last member kept, refused replacements, refused stale and forged reports. (Other
    /// seeds than above, so these runs check the invariants of more sequences too.)
    @Test func simulationExercisesEveryRule() {
        var total = SimulationCounts()
        for seed in 41...60 as ClosedRange<UInt64> {
            let world = SimulatedReplicaSet(seed: seed, healModel: .recordedChanges)
            world.run(steps: Self.stepsPerSeed)
            total = total + world.counts
        }
        #expect(total.acknowledgedWrites > 1_000, "\(total)")
        #expect(total.refusedWrites > 100, "\(total)")
        #expect(total.forwardFailures > 50, "\(total)")
        #expect(total.heals > 100, "\(total)")
        #expect(total.fullResyncHeals > 10, "\(total)")
        #expect(total.heals - total.fullResyncHeals > 50, "heals from a witness's record; \(total)")
        #expect(total.lateFailureReports > 5, "\(total)")
        #expect(total.lastMemberKept > 10, "\(total)")
        #expect(total.replacements > 10, "\(total)")
        #expect(total.refusedReplacements > 0, "\(total)")
        #expect(total.staleMessagesRefused > 100, "\(total)")
        #expect(total.forgedReportsRefused > 50, "\(total)")
    }
}
