namespace WebSockets.Internal;

/// <summary>The connection's place in the cluster: its user, its rooms and its presence snapshot.</summary>
internal sealed partial class SocketConnection
{
    /// <summary>The longest room name, in UTF-16 code units.</summary>
    internal const int MaxRoomNameLength = 200;

    // Copy-on-write under the registry's membership lock, so that senders read it without locking.
    private volatile string[] _rooms = [];

    public string? UserId { get; internal set; }

    public IReadOnlyCollection<string> Rooms => _rooms;

    /// <summary>The presence snapshot, replaced under the registry's membership lock on every change.</summary>
    internal SocketMember? Member { get; set; }

    /// <summary>Whether the connection is in the registry's indexes: set on connect, cleared when it ends.</summary>
    internal bool IsRegistered { get; set; }

    public ValueTask JoinAsync(string room)
    {
        ValidateRoom(room);
        return _registry.JoinAsync(this, room);
    }

    public ValueTask LeaveAsync(string room)
    {
        ValidateRoom(room);
        return _registry.LeaveAsync(this, room);
    }

    internal static void ValidateRoom(string room)
    {
        ArgumentException.ThrowIfNullOrEmpty(room);
        if (room.Length > MaxRoomNameLength)
        {
            throw new ArgumentException($"A room name is at most {MaxRoomNameLength} characters long.", nameof(room));
        }
    }

    internal bool IsInRoom(string room) => Array.IndexOf(_rooms, room) >= 0;

    internal bool IsInAnyRoom(string[] rooms)
    {
        var mine = _rooms;
        foreach (var room in rooms)
        {
            if (Array.IndexOf(mine, room) >= 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Adds a room; the caller holds the membership lock. False when already in it.</summary>
    internal bool AddRoom(string room)
    {
        var rooms = _rooms;
        if (Array.IndexOf(rooms, room) >= 0)
        {
            return false;
        }

        _rooms = [.. rooms, room];
        return true;
    }

    /// <summary>Removes a room; the caller holds the membership lock. False when not in it.</summary>
    internal bool RemoveRoom(string room)
    {
        var rooms = _rooms;
        var index = Array.IndexOf(rooms, room);
        if (index < 0)
        {
            return false;
        }

        _rooms = [.. rooms.AsSpan(0, index), .. rooms.AsSpan(index + 1)];
        return true;
    }
}
