using System.Collections.Concurrent;

namespace ChatApp.Chat;

/// <summary>
/// The latest messages of each room, kept in memory by this server (a singleton). With several servers each keeps what
/// was posted through it: see the README.
/// </summary>
public sealed class ChatHistory
{
    /// <summary>How many messages a room keeps.</summary>
    public const int Capacity = 50;

    private readonly ConcurrentDictionary<string, Queue<ChatMessage>> _rooms = new(StringComparer.Ordinal);

    /// <summary>Adds a message to its room, dropping the oldest beyond <see cref="Capacity"/>.</summary>
    public void Add(ChatMessage message)
    {
        var messages = _rooms.GetOrAdd(message.Room, static _ => new Queue<ChatMessage>(Capacity));
        lock (messages)
        {
            messages.Enqueue(message);
            while (messages.Count > Capacity)
            {
                messages.Dequeue();
            }
        }
    }

    /// <summary>Gets the latest messages of a room, oldest first.</summary>
    public IReadOnlyList<ChatMessage> Get(string room)
    {
        if (!_rooms.TryGetValue(room, out var messages))
        {
            return [];
        }

        lock (messages)
        {
            return [.. messages];
        }
    }
}
