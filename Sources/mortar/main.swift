import MortarCommands

await MortarCommand.runFromCommandLine()
