using WebSockets;

namespace ChatApp.Chat;

/// <summary>
/// The "chat" namespace, mapped at /ws/chat. Each public method is an event; a new controller is made per message,
/// with its services injected. Rooms are the registry's rooms, so a message sent to one reaches its members on every
/// server.
/// </summary>
[SocketNamespace(Namespace)]
public sealed class ChatController(ISocketRegistry registry, RoomDirectory directory, PresenceLocks locks, ChatHistory history, TimeProvider time) : SocketController
{
    /// <summary>The namespace name.</summary>
    public const string Namespace = "chat";

    /// <summary>Greets a new connection with its ID and the rooms that have people in them.</summary>
    public override async Task OnConnectedAsync(CancellationToken cancellationToken)
    {
        await Connection.EmitAsync("welcome", new Welcome(Connection.Id), cancellationToken);
        using (await locks.EnterRoomListAsync(cancellationToken))
        {
            await Connection.EmitAsync("rooms", await directory.GetRoomsAsync(cancellationToken), cancellationToken);
        }
    }

    /// <summary>
    /// Request <c>room.join</c>: joins (or creates) a room under a nickname; replies with its members and history. The
    /// first join fixes the connection's nickname; a later join under another one is refused with <c>name_fixed</c>.
    /// </summary>
    [SocketEvent("room.join")]
    public async Task<JoinReply> JoinAsync(JoinRequest request, CancellationToken cancellationToken)
    {
        var room = ChatRules.Room(request.Room);
        var name = ChatRules.Name(request.Name);

        // One nickname per connection. Presence snapshots the nickname whenever the connection joins or leaves a room,
        // so a rename would show in some member lists and not others, and messages would disagree with them. The
        // server handles a connection's messages one at a time, so two joins of one connection can't race here.
        if (Session.TryGet<string>(RoomDirectory.NameItem, out var fixedName) && !string.Equals(fixedName, name, StringComparison.Ordinal))
        {
            throw new SocketRequestException("name_fixed", $"You are '{fixedName}' on this connection; a nickname can't change once set. Reconnect to use another.");
        }

        IReadOnlyList<Member> members;
        bool joined;
        using (await locks.EnterRoomAsync(room, cancellationToken))
        {
            joined = !Connection.Rooms.Contains(room);
            if (joined)
            {
                await EnterAsync(room, name, cancellationToken);
            }

            members = await directory.GetMembersAsync(room, cancellationToken);
            if (joined)
            {
                await registry.Rooms(room).EmitAsync("presence", new Presence(room, members, Joined: Me(name), Left: null), cancellationToken);
            }
        }

        if (joined)
        {
            await AnnounceRoomsAsync(cancellationToken);
        }

        return new JoinReply(room, members, history.Get(room));
    }

    /// <summary>Request <c>room.leave</c>: leaves a room and tells those who stay.</summary>
    [SocketEvent("room.leave")]
    public async Task<LeaveReply> LeaveAsync(RoomRequest request, CancellationToken cancellationToken)
    {
        var room = ChatRules.Room(request.Room);
        bool left;
        using (await locks.EnterRoomAsync(room, cancellationToken))
        {
            left = Connection.Rooms.Contains(room);
            if (left)
            {
                await Connection.LeaveAsync(room);
                await AnnounceLeftAsync(room, cancellationToken);
            }
        }

        if (left)
        {
            await AnnounceRoomsAsync(cancellationToken);
        }

        return new LeaveReply(room);
    }

    /// <summary>Event <c>chat.send</c>: posts a message to a room the sender is in; every member gets <c>chat.message</c>.</summary>
    [SocketEvent("chat.send")]
    public async Task SendAsync(SendRequest request, CancellationToken cancellationToken)
    {
        var room = ChatRules.Room(request.Room);
        var text = ChatRules.Text(request.Text);
        var name = RequireMember(room);

        var message = new ChatMessage(room, name, text, time.GetUtcNow(), Connection.Id);
        history.Add(message);
        await registry.Rooms(room).EmitAsync("chat.message", message, cancellationToken);
    }

    /// <summary>Event <c>typing</c>: tells the other members that the sender is typing.</summary>
    public async Task TypingAsync(RoomRequest request, CancellationToken cancellationToken)
    {
        var room = ChatRules.Room(request.Room);
        var name = RequireMember(room);
        await registry.Rooms(room).Except(Connection.Id).EmitAsync("typing", new Typing(room, Connection.Id, name), cancellationToken);
    }

    /// <summary>
    /// A connection that ends leaves its rooms; its <see cref="ISocketConnection.Rooms"/> still lists them here, so the
    /// people who stay can be told.
    /// </summary>
    public override async Task OnDisconnectedAsync(DisconnectReason reason, CancellationToken cancellationToken)
    {
        var rooms = Connection.Rooms;
        foreach (var room in rooms)
        {
            using (await locks.EnterRoomAsync(room, cancellationToken))
            {
                await AnnounceLeftAsync(room, cancellationToken);
            }
        }

        if (rooms.Count > 0)
        {
            await AnnounceRoomsAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Joins a room within the limits: <see cref="ChatRules.MaxRooms"/> rooms in the chat, and
    /// <see cref="ChatRules.MaxRoomsPerConnection"/> per connection. Called under the room's lock.
    /// </summary>
    private async Task EnterAsync(string room, string name, CancellationToken cancellationToken)
    {
        // Counting and joining under the room list's lock, so that joins on this server can't open more rooms between
        // them than the limit allows. (Two servers that open rooms at the same moment can still pass it by a few.)
        using (await locks.EnterRoomListAsync(cancellationToken))
        {
            if (!await directory.CanJoinAsync(room, cancellationToken))
            {
                throw new SocketRequestException("too_many_rooms", $"The chat already has {ChatRules.MaxRooms} rooms, the most it allows. Join one of them.");
            }

            // Set before joining: presence takes its snapshot of the public session items when the connection joins.
            Session.Set(RoomDirectory.NameItem, name);
            try
            {
                await Connection.JoinAsync(room);
            }
            catch (InvalidOperationException)
            {
                // SocketRegistryOptions.MaxRoomsPerConnection, set to ChatRules.MaxRoomsPerConnection in Program.cs.
                throw new SocketRequestException("too_many_rooms", $"You are in {ChatRules.MaxRoomsPerConnection} rooms, the most one connection may be in. Leave one first.");
            }
        }
    }

    /// <summary>Tells a room who left and who stays. Called under the room's lock.</summary>
    private async Task AnnounceLeftAsync(string room, CancellationToken cancellationToken)
    {
        var members = await directory.GetMembersAsync(room, cancellationToken);
        var me = Me(Session.Get<string>(RoomDirectory.NameItem) ?? "?");
        await registry.Rooms(room).EmitAsync("presence", new Presence(room, members, Joined: null, Left: me), cancellationToken);
    }

    /// <summary>Every chat connection gets the new room list, with counts, for its sidebar.</summary>
    private async Task AnnounceRoomsAsync(CancellationToken cancellationToken)
    {
        using (await locks.EnterRoomListAsync(cancellationToken))
        {
            await registry.Namespace(Namespace).EmitAsync("rooms", await directory.GetRoomsAsync(cancellationToken), cancellationToken);
        }
    }

    private string RequireMember(string room)
    {
        if (!Connection.Rooms.Contains(room) || !Session.TryGet<string>(RoomDirectory.NameItem, out var name))
        {
            throw new SocketRequestException("not_in_room", $"Join room '{room}' first.");
        }

        return name;
    }

    private Member Me(string name) => new(Connection.Id, name);
}
