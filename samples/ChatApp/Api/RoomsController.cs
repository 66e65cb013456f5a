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
    /// on every server. Answers 202 with the message, or 400 when the room name or text breaks the chat's rules.
    /// </summary>
    [HttpPost("{room}/announce")]
    [ProducesResponseType<ChatMessage>(StatusCodes.Status202Accepted)]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status400BadRequest)]
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

        history.Add(message);
        await registry.Rooms(message.Room).EmitAsync("chat.message", message, cancellationToken);
        return Accepted(message);
    }
}

/// <summary>The body of POST /api/rooms/{room}/announce.</summary>
public sealed record Announcement(string? Text);
