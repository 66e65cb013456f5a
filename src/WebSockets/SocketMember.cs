using System.Text.Json;

namespace WebSockets;

/// <summary>
/// What the cluster knows of one live connection: where it is, whose it is, its rooms and its public session items.
/// Presence queries return these; a backplane stores and returns them for the connections of other servers.
/// </summary>
/// <remarks>
/// A member is a snapshot. It is taken when the connection is registered and again on each join and leave, so a public
/// session item set after the last of those is not in it yet.
/// </remarks>
public sealed class SocketMember
{
    /// <summary>Creates a member.</summary>
    /// <param name="connectionId">The connection ID.</param>
    /// <param name="namespace">The connection's namespace.</param>
    /// <param name="userId">The user ID, or <see langword="null"/> for an anonymous connection.</param>
    /// <param name="serverId">The ID of the server that holds the connection.</param>
    /// <param name="rooms">The rooms the connection is in.</param>
    /// <param name="items">The public session items, as JSON.</param>
    public SocketMember(string connectionId, string @namespace, string? userId, string serverId, IReadOnlyList<string>? rooms = null, IReadOnlyDictionary<string, JsonElement>? items = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionId);
        ArgumentNullException.ThrowIfNull(@namespace);
        ArgumentNullException.ThrowIfNull(serverId);
        ConnectionId = connectionId;
        Namespace = @namespace;
        UserId = userId;
        ServerId = serverId;
        Rooms = rooms ?? [];
        Items = items ?? EmptyItems;
    }

    private static readonly IReadOnlyDictionary<string, JsonElement> EmptyItems = new Dictionary<string, JsonElement>(0);

    /// <summary>Gets the connection ID.</summary>
    public string ConnectionId { get; }

    /// <summary>Gets the connection's namespace.</summary>
    public string Namespace { get; }

    /// <summary>Gets the user ID, or <see langword="null"/> for an anonymous connection.</summary>
    public string? UserId { get; }

    /// <summary>Gets the ID of the server that holds the connection (<see cref="SocketBackplaneContext.ServerId"/>).</summary>
    public string ServerId { get; }

    /// <summary>Gets the rooms the connection is in, in no particular order.</summary>
    public IReadOnlyList<string> Rooms { get; }

    /// <summary>
    /// Gets the session items named in <see cref="SocketRegistryOptions.PublicSessionItems"/> that the connection has,
    /// serialized with <see cref="SocketRegistryOptions.JsonSerializerOptions"/>.
    /// </summary>
    public IReadOnlyDictionary<string, JsonElement> Items { get; }
}
