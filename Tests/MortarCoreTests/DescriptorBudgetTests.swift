import MortarCore
import Testing

/// A brick's descriptors are shared out so that neither connections nor open files can use them all.
@Suite("Descriptor budget")
struct DescriptorBudgetTests {
    @Test(arguments: [1024, 4096, 20_000, 65_536, 1_048_576, 1 << 40])
    func theBudgetFitsTheLimit(_ descriptors: Int) {
        let budget = DescriptorBudget(descriptors: descriptors)
        #expect(
            budget.connectionsMax + budget.openFilesMax + budget.directoriesCachedMax + Limits.brickReservedDescriptors
                <= max(descriptors, Limits.brickReservedDescriptors + 2))
        #expect(budget.directoriesCachedMax <= Limits.directoryDescriptorsCachedMax)
        #expect(budget.connectionsPerAddressMax <= budget.connectionsMax)
        #expect(budget.openFilesPerConnectionMax * 2 <= budget.openFilesMax)
        #expect(budget.connectionsMax <= Limits.brickConnectionsMax)
        #expect(budget.openFilesMax <= Limits.openFilesPerBrickMax)
        #expect(budget.openFilesPerConnectionMax <= Limits.openFilesPerConnectionMax)
        #expect(budget.connectionsMax >= 1 && budget.openFilesPerConnectionMax >= 1)
    }

    /// The machine's limit here (20,000): the flood the trust issue describes (20,000 opens on one connection)
    /// hits the per-connection bound long before the brick runs out.
    @Test func aTwentyThousandDescriptorBrick() {
        let budget = DescriptorBudget(descriptors: 20_000)
        #expect(budget.directoriesCachedMax == 1_024)
        #expect(budget.connectionsMax == 4096)
        #expect(budget.openFilesMax == 20_000 - 512 - 1_024 - 4096)
        #expect(budget.openFilesPerConnectionMax == (20_000 - 512 - 1_024 - 4096) / 2)
    }

    /// Below the reserve a brick still gets one of each rather than a zero that would refuse everything.
    @Test func aTinyLimitStillServesOneClient() {
        let budget = DescriptorBudget(descriptors: 100)
        #expect(budget.connectionsMax == 1 && budget.connectionsPerAddressMax == 1)
        #expect(budget.openFilesMax >= 1 && budget.openFilesPerConnectionMax >= 1)
    }

    @Test func unlimitedIsEveryLimit() {
        #expect(DescriptorBudget.unlimited.connectionsMax == Limits.brickConnectionsMax)
        #expect(DescriptorBudget.unlimited.openFilesMax == Limits.openFilesPerBrickMax)
        #expect(DescriptorBudget.unlimited.openFilesPerConnectionMax == Limits.openFilesPerConnectionMax)
    }
}
