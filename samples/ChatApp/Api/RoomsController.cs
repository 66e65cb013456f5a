using ChatApp.Chat;
using Microsoft.AspNetCore.Mvc;
using WebSockets;

namespace ChatApp.Api;

/// <summary>The rooms over HTTP: an ordinary MVC controller that takes the socket registry by constructor injection.</summary>
[ApiController]
[Route("api/rooms")]
public sealed class RoomsController(ISocketRegistry registry, RoomDirectory directory, ChatHistory history, TimeProvider time) : ControllerBase
{
    /// <summary>GET /api/rooms: the rooms that have people in them, with member counts, on every server.</summary>
    [HttpGet]
    public Task<IReadOnlyList<RoomSummary>> GetRooms(CancellationToken cancellationToken) => directory.GetRoomsAsync(cancellationToken);

    /// <summary>
    /// POST /api/rooms/{room}/announce <c>{"text":"…"}</c>: posts a message from <c>system</c> to everyone in the room,
    /// on every server. Answers 202 with the message, 400 when the room name or text breaks the chat's rules, or 404
    /// when no one is in the room on any server.
    /// </summary>
    [HttpPost("{room}/announce")]
    [ProducesResponseType<ChatMessage>(StatusCodes.Status202Accepted)]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status400BadRequest)]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound)]
    public async Task<IActionResult> Announce(string room, Announcement announcement, CancellationToken cancellationToken)
    {
        ChatMessage message;
        try
        {
            message = new ChatMessage(ChatRules.Room(room), ChatRules.SystemName, ChatRules.Text(announcement.Text), time.GetUtcNow(), FromId: null);
        }
        catch (SocketRequestException e)
        {
            // The rules speak the socket protocol's error codes; over HTTP they become a 400 that carries the code.
            return Problem(statusCode: StatusCodes.Status400BadRequest, title: e.Message, type: e.Code);
        }

        // A room exists while people are in it. Announcing to an empty one would reach no one and only leave history
        // behind, so that anyone could fill this server's memory by posting to endless new room names.
        if ((await directory.GetMembersAsync(message.Room, cancellationToken)).Count == 0)
        {
            return Problem(statusCode: StatusCodes.Status404NotFound, title: $"No one is in room '{message.Room}' on any server, so there is no one to announce to.", type: "room_not_found");
        }

        history.Add(message);
        await registry.Rooms(message.Room).EmitAsync("chat.message", message, cancellationToken);
        return Accepted(message);
    }
}

/// <summary>The body of POST /api/rooms/{room}/announce.</summary>
public sealed record Announcement(string? Text);
