using ChatApp.Chat;
using Microsoft.AspNetCore.Mvc;
using WebSockets;

namespace ChatApp.Api;

/// <summary>GET /api/connections: the live WebSocket connections, read from the injected registry.</summary>
[ApiController]
[Route("api/connections")]
public sealed class ConnectionsController(ISocketRegistry registry) : ControllerBase
{
    /// <summary>
    /// The counts of the whole cluster (every server, per namespace), and the connections this server holds, with
    /// nickname and rooms.
    /// </summary>
    [HttpGet]
    public async Task<ConnectionsReport> GetConnections(CancellationToken cancellationToken)
    {
        var counts = await registry.GetCountsAsync(cancellationToken);
        var local = registry.GetConnections()
            .Select(c => new ConnectionInfo(c.Id, c.Namespace, c.Session.Get<string>(RoomDirectory.NameItem), [.. c.Rooms.Order(StringComparer.Ordinal)]))
            .OrderBy(c => c.Id, StringComparer.Ordinal)
            .ToList();
        return new ConnectionsReport(counts.Value.Connections, counts.Value.Namespaces, counts.IsComplete, local);
    }
}

/// <summary>The answer of GET /api/connections.</summary>
/// <param name="Total">Live connections on every server.</param>
/// <param name="Namespaces">Live connections per namespace, on every server.</param>
/// <param name="IsComplete">Whether every server answered in time.</param>
/// <param name="Connections">The connections of this server.</param>
public sealed record ConnectionsReport(int Total, IReadOnlyDictionary<string, int> Namespaces, bool IsComplete, IReadOnlyList<ConnectionInfo> Connections);

/// <summary>One live connection of this server.</summary>
public sealed record ConnectionInfo(string Id, string Namespace, string? Name, IReadOnlyList<string> Rooms);
