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

    public bool Includes(SocketConnection connection)
        => (Namespace is null || string.Equals(connection.Namespace, Namespace, StringComparison.Ordinal))
            && (Rooms is null || connection.IsInAnyRoom(Rooms))
            && (Users is null || (connection.UserId is { } user && Array.IndexOf(Users, user) >= 0))
            && (ConnectionIds is null || Array.IndexOf(ConnectionIds, connection.Id) >= 0)
            && (Except is null || Array.IndexOf(Except, connection.Id) < 0)
            && (Filter is null || Filter(connection));
}
