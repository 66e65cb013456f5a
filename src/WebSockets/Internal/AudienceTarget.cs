namespace WebSockets.Internal;

/// <summary>
/// Who a cluster-wide send reaches. Each kind of constraint that is set must hold (a connection must be in the
/// namespace, in one of the rooms, of one of the users and one of the IDs); within one kind, any value matches.
/// </summary>
internal sealed record AudienceTarget
{
    /// <summary>Every connection of every namespace.</summary>
    public static readonly AudienceTarget All = new();

    public string? Namespace { get; init; }

    public string[]? Rooms { get; init; }

    public string[]? Users { get; init; }

    public string[]? ConnectionIds { get; init; }

    public string[]? Except { get; init; }

    /// <summary>A local predicate: it can't travel, so a filtered target is never published.</summary>
    public Func<ISocketConnection, bool>? Filter { get; init; }

    public bool LocalOnly { get; init; }

    /// <summary>Whether the connection is in the audience. <paramref name="found"/> names the constraint the caller already
    /// satisfied by looking the connection up in that constraint's index, so that it is not checked again in O(keys).</summary>
    public bool Includes(SocketConnection connection, Found found = Found.None)
        => (Namespace is null || string.Equals(connection.Namespace, Namespace, StringComparison.Ordinal))
            && (found == Found.ByRoom || Rooms is null || connection.IsInAnyRoom(Rooms))
            && (found == Found.ByUser || Users is null || (connection.UserId is { } user && Array.IndexOf(Users, user) >= 0))
            && (found == Found.ById || ConnectionIds is null || Array.IndexOf(ConnectionIds, connection.Id) >= 0)
            && (Except is null || Array.IndexOf(Except, connection.Id) < 0)
            && (Filter is null || Filter(connection));

    public enum Found : byte
    {
        None,
        ById,
        ByRoom,
        ByUser,
    }
}
