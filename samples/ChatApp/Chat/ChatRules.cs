using System.Text.RegularExpressions;
using WebSockets;

namespace ChatApp.Chat;

/// <summary>
/// The limits of the chat, checked on the server for every message, whatever the page already checked. A broken rule
/// throws <see cref="SocketRequestException"/>: the client gets an error reply (or, for an event, an error notice) with
/// the code and message, and the connection stays open.
/// </summary>
public static partial class ChatRules
{
    /// <summary>The longest message, in UTF-16 characters.</summary>
    public const int MaxMessageLength = 2000;

    /// <summary>The longest nickname.</summary>
    public const int MaxNameLength = 24;

    /// <summary>The longest room name.</summary>
    public const int MaxRoomLength = 32;

    /// <summary>
    /// The most rooms the chat has at once, on every server together. It bounds the room list that every page gets after
    /// each join and leave, and the rooms that keep history.
    /// </summary>
    public const int MaxRooms = 200;

    /// <summary>The most rooms one connection is in at once (the page shows one at a time).</summary>
    public const int MaxRoomsPerConnection = 10;

    /// <summary>The sender name of announcements, which no one may take.</summary>
    public const string SystemName = "system";

    /// <summary>A room name: 1 to 32 lower-case letters, digits, '-' or '_', starting with a letter or digit.</summary>
    /// <returns>The room name.</returns>
    public static string Room(string? room)
    {
        if (room is null || !RoomPattern().IsMatch(room))
        {
            throw new SocketRequestException("bad_room", $"A room name has 1 to {MaxRoomLength} lower-case letters, digits, '-' or '_', and starts with a letter or digit.");
        }

        return room;
    }

    /// <summary>A nickname: 1 to 24 letters, digits, spaces, '.', '-' or '_' (trimmed), and not "system".</summary>
    /// <returns>The trimmed nickname.</returns>
    public static string Name(string? name)
    {
        var trimmed = name?.Trim();
        if (trimmed is null || !NamePattern().IsMatch(trimmed))
        {
            throw new SocketRequestException("bad_name", $"A nickname has 1 to {MaxNameLength} letters, digits, spaces, '.', '-' or '_'.");
        }

        if (string.Equals(trimmed, SystemName, StringComparison.OrdinalIgnoreCase))
        {
            throw new SocketRequestException("bad_name", $"The nickname '{SystemName}' is reserved for announcements.");
        }

        return trimmed;
    }

    /// <summary>A message: not blank, at most 2000 characters once trimmed.</summary>
    /// <returns>The trimmed text.</returns>
    public static string Text(string? text)
    {
        var trimmed = text?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            throw new SocketRequestException("empty_message", "Type a message first: it can't be empty.");
        }

        if (trimmed.Length > MaxMessageLength)
        {
            throw new SocketRequestException("message_too_long", $"A message has at most {MaxMessageLength} characters; this one has {trimmed.Length}.");
        }

        return trimmed;
    }

    // \A and \z anchor the whole string. In .NET, $ also matches before a final "\n", so "lobby\n" (and a 33-character
    // name ending in "\n") would pass as a room of its own that looks like "lobby".
    [GeneratedRegex(@"\A[a-z0-9][a-z0-9_-]{0,31}\z")]
    private static partial Regex RoomPattern();

    [GeneratedRegex(@"\A[\p{L}\p{N}][\p{L}\p{N} ._-]{0,23}\z")]
    private static partial Regex NamePattern();
}
