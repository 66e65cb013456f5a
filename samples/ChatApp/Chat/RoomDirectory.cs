using System.Text.Json;
using WebSockets;

namespace ChatApp.Chat;

/// <summary>
/// Who is where, read from the registry's cluster-wide presence: with the Redis backplane, the rooms and members of every
/// server, not just this one.
/// </summary>
public sealed class RoomDirectory(ISocketRegistry registry)
{
    /// <summary>The session item that holds a connection's nickname; public, so that presence carries it to every server.</summary>
    public const string NameItem = "name";

    /// <summary>Gets the people in a room, sorted by nickname.</summary>
    public async Task<IReadOnlyList<Member>> GetMembersAsync(string room, CancellationToken cancellationToken)
    {
        var members = await registry.GetRoomMembersAsync(room, cancellationToken);
        return [.. members.Value
            .Where(m => m.Namespace == ChatController.Namespace)
            .Select(m => new Member(m.ConnectionId, NameOf(m)))
            .OrderBy(m => m.Name, StringComparer.OrdinalIgnoreCase)
            .ThenBy(m => m.Id, StringComparer.Ordinal)];
    }

    /// <summary>Gets the rooms that have people in them, with their counts, sorted by name.</summary>
    public async Task<IReadOnlyList<RoomSummary>> GetRoomsAsync(CancellationToken cancellationToken)
    {
        var counts = await registry.GetCountsAsync(cancellationToken);
        return [.. counts.Value.Rooms
            .Select(r => new RoomSummary(r.Key, r.Value))
            .OrderBy(r => r.Name, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Whether a connection may join <paramref name="room"/> without passing <see cref="ChatRules.MaxRooms"/>: people are
    /// already in it, or the chat has fewer rooms than that.
    /// </summary>
    public async Task<bool> CanJoinAsync(string room, CancellationToken cancellationToken)
    {
        var rooms = (await registry.GetCountsAsync(cancellationToken)).Value.Rooms;
        return rooms.ContainsKey(room) || rooms.Count < ChatRules.MaxRooms;
    }

    private static string NameOf(SocketMember member)
        => member.Items.TryGetValue(NameItem, out var name) && name.ValueKind == JsonValueKind.String ? name.GetString()! : "?";
}
