namespace WebSockets;

/// <summary>Connection counts, per namespace and per room.</summary>
/// <param name="Namespaces">Live connections per namespace; empty namespaces are left out.</param>
/// <param name="Rooms">Members per room; empty rooms are left out.</param>
public sealed record SocketCounts(IReadOnlyDictionary<string, int> Namespaces, IReadOnlyDictionary<string, int> Rooms)
{
    /// <summary>Gets the total number of live connections.</summary>
    public int Connections => Namespaces.Values.Sum();
}
