namespace WebSockets.Tests.Hardening;

/// <summary>
/// Tests that measure the process (managed memory, working set, timers, thread-pool work) or load it hard: they run
/// alone, after the parallel tests, so that neither disturbs the other's figures or timing bounds.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HardeningCollection
{
    public const string Name = "Hardening (serial)";
}
