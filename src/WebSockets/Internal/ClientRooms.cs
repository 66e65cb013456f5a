namespace WebSockets.Internal;

/// <summary>The built-in <c>$join</c> and <c>$leave</c> requests of namespaces that allow client rooms.</summary>
internal static class ClientRooms
{
    public const string JoinEvent = "$join";
    public const string LeaveEvent = "$leave";
    public const string Forbidden = ErrorNotice.Forbidden;
    public const string TooManyRooms = "too_many_rooms";

    /// <summary>The <c>$join</c> handler, bound without reflection; its data and reply use the library's own JSON metadata.</summary>
    public static HandlerSource JoinHandler(Func<ISocketConnection, string, CancellationToken, ValueTask<bool>> authorize)
    {
        var handler = Join(authorize);
        return new HandlerSource(handler, (_, _) => TypedHandler.Create(handler, SocketJsonContext.Default.RoomRequest, SocketJsonContext.Default.RoomReply));
    }

    /// <summary>The <c>$leave</c> handler, bound without reflection; its data and reply use the library's own JSON metadata.</summary>
    public static HandlerSource LeaveHandler()
    {
        Func<ISocketConnection, RoomRequest?, CancellationToken, Task<RoomReply>> handler = static (connection, request, _) => Leave(connection, request);
        return new HandlerSource(handler, (_, _) => TypedHandler.Create(handler, SocketJsonContext.Default.RoomRequest, SocketJsonContext.Default.RoomReply));
    }

    public static Func<ISocketConnection, RoomRequest?, CancellationToken, Task<RoomReply>> Join(Func<ISocketConnection, string, CancellationToken, ValueTask<bool>> authorize)
        => async (connection, request, cancellationToken) =>
        {
            var room = Validate(request);
            if (!await authorize(connection, room, cancellationToken))
            {
                ((SocketConnection)connection).Metrics.MessageRejected(connection.Namespace, RejectionReason.Forbidden);
                throw new SocketRequestException(Forbidden, $"Joining room '{room}' is not allowed.");
            }

            try
            {
                await connection.JoinAsync(room);
            }
            catch (InvalidOperationException ex)
            {
                ((SocketConnection)connection).Metrics.MessageRejected(connection.Namespace, RejectionReason.TooManyRooms);
                throw new SocketRequestException(TooManyRooms, ex.Message);
            }

            return new RoomReply(room, [.. connection.Rooms]);
        };

    public static async Task<RoomReply> Leave(ISocketConnection connection, RoomRequest? request)
    {
        var room = Validate(request);
        await connection.LeaveAsync(room);
        return new RoomReply(room, [.. connection.Rooms]);
    }

    private static string Validate(RoomRequest? request)
    {
        if (request?.Room is not { Length: > 0 and <= SocketConnection.MaxRoomNameLength } room)
        {
            throw new SocketRequestException(ErrorNotice.BadData, $"The data must be {{\"room\":\"…\"}} with a room name of 1 to {SocketConnection.MaxRoomNameLength} characters.");
        }

        return room;
    }
}

/// <summary>The data of <c>$join</c> and <c>$leave</c>.</summary>
internal sealed record RoomRequest(string? Room);

/// <summary>The reply to <c>$join</c> and <c>$leave</c>: the room, and every room the connection is in now.</summary>
internal sealed record RoomReply(string Room, string[] Rooms);
