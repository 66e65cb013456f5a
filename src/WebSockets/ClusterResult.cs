namespace WebSockets;

/// <summary>
/// The answer to a cluster-wide query. Queries answer within <see cref="SocketRegistryOptions.ClusterQueryTimeout"/>:
/// when part of the cluster could not be read in time, the answer holds what could be, and says so, rather than failing.
/// </summary>
/// <typeparam name="T">The type of the value.</typeparam>
public sealed class ClusterResult<T>
{
    /// <summary>Creates a result.</summary>
    /// <param name="value">The value.</param>
    /// <param name="isComplete">Whether every server's part is in the value.</param>
    /// <param name="missingServers">The IDs of the servers whose part is missing, when they are known.</param>
    public ClusterResult(T value, bool isComplete, IReadOnlyList<string>? missingServers = null)
    {
        Value = value;
        IsComplete = isComplete;
        MissingServers = missingServers ?? [];
    }

    /// <summary>Gets the value: the merged parts of every server that answered.</summary>
    public T Value { get; }

    /// <summary>
    /// Gets whether every live server's part is in <see cref="Value"/>. <see langword="false"/> when a server did not
    /// answer in time or the backplane could not be reached; this server's own part is always in.
    /// </summary>
    public bool IsComplete { get; }

    /// <summary>Gets the IDs of the servers whose part is missing, when they are known. Empty when complete.</summary>
    public IReadOnlyList<string> MissingServers { get; }
}
