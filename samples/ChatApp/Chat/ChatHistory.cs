namespace ChatApp.Chat;

/// <summary>
/// The latest messages of the rooms, kept in memory by this server (a singleton). With several servers each keeps what
/// was posted through it: see the README. Memory is bounded both ways: a room keeps its last <see cref="Capacity"/>
/// messages, and at most <see cref="MaxRooms"/> rooms keep any. A message to one more room drops the history of the room
/// used least recently (posted to or joined), whether or not people are still in it.
/// </summary>
public sealed class ChatHistory
{
    /// <summary>How many messages a room keeps.</summary>
    public const int Capacity = 50;

    /// <summary>How many rooms keep history: as many as the chat may have at once.</summary>
    public const int MaxRooms = ChatRules.MaxRooms;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<RoomHistory>> _rooms = new(StringComparer.Ordinal);

    // The rooms in order of use, the latest first: the last one is dropped when a room beyond MaxRooms needs history.
    private readonly LinkedList<RoomHistory> _recent = new();

    /// <summary>Adds a message to its room, dropping the oldest beyond <see cref="Capacity"/>.</summary>
    public void Add(ChatMessage message)
    {
        lock (_lock)
        {
            if (!_rooms.TryGetValue(message.Room, out var node))
            {
                if (_rooms.Count >= MaxRooms)
                {
                    _rooms.Remove(_recent.Last!.Value.Room);
                    _recent.RemoveLast();
                }

                node = _recent.AddFirst(new RoomHistory(message.Room));
                _rooms.Add(message.Room, node);
            }
            else
            {
                MoveToFront(node);
            }

            var messages = node.Value.Messages;
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
        lock (_lock)
        {
            if (!_rooms.TryGetValue(room, out var node))
            {
                return [];
            }

            MoveToFront(node);
            return [.. node.Value.Messages];
        }
    }

    private void MoveToFront(LinkedListNode<RoomHistory> node)
    {
        _recent.Remove(node);
        _recent.AddFirst(node);
    }

    private sealed class RoomHistory(string room)
    {
        public string Room { get; } = room;

        public Queue<ChatMessage> Messages { get; } = new(Capacity);
    }
}
