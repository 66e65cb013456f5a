namespace ChatApp.Chat;

// The payloads of the "chat" namespace, serialized camelCase (JsonSerializerOptions.Web). docs: samples/ChatApp/README.md.

/// <summary>The data of the request <c>room.join</c>.</summary>
public sealed record JoinRequest(string? Room, string? Name);

/// <summary>The data of <c>room.leave</c> and <c>typing</c>.</summary>
public sealed record RoomRequest(string? Room);

/// <summary>The data of the event <c>chat.send</c>.</summary>
public sealed record SendRequest(string? Room, string? Text);

/// <summary>A person in a room: the connection ID and the nickname.</summary>
public sealed record Member(string Id, string Name);

/// <summary>
/// The event <c>chat.message</c>, also what the history keeps. <see cref="FromId"/> is the sender's connection ID,
/// <see langword="null"/> for announcements (<see cref="From"/> is then <c>system</c>).
/// </summary>
public sealed record ChatMessage(string Room, string From, string Text, DateTimeOffset At, string? FromId);

/// <summary>The reply to <c>room.join</c>: who is in the room and its latest messages, oldest first.</summary>
public sealed record JoinReply(string Room, IReadOnlyList<Member> Members, IReadOnlyList<ChatMessage> History);

/// <summary>The reply to <c>room.leave</c>.</summary>
public sealed record LeaveReply(string Room);

/// <summary>
/// The event <c>presence</c>, sent to a room's members on every join and leave: everyone now in the room, and who
/// joined or left.
/// </summary>
public sealed record Presence(string Room, IReadOnlyList<Member> Members, Member? Joined, Member? Left);

/// <summary>The event <c>typing</c> as the other members of the room get it.</summary>
public sealed record Typing(string Room, string Id, string Name);

/// <summary>The event <c>welcome</c>, sent once per connection: its ID, so the page can tell its own messages.</summary>
public sealed record Welcome(string Id);

/// <summary>A room and how many people are in it, on every server: an item of <c>GET /api/rooms</c> and of the event <c>rooms</c>.</summary>
public sealed record RoomSummary(string Name, int Members);
