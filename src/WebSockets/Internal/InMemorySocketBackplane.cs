namespace WebSockets.Internal;

/// <summary>
/// The default backplane. Alone, it connects nothing: a single server needs no configuration, and the registry
/// neither encodes nor publishes anything. Given a <see cref="InMemoryBackplaneBus"/>, it connects the registries of
/// one process, which is how the backplane contract tests run against it.
/// </summary>
internal sealed class InMemorySocketBackplane(InMemoryBackplaneBus? bus = null) : SocketBackplane
{
    private SocketBackplaneContext? _context;

    public bool IsConnected => bus is not null;

    internal SocketBackplaneContext? Context => _context;

    public override Task StartAsync(SocketBackplaneContext context, CancellationToken cancellationToken)
    {
        _context = context;
        bus?.Join(this);
        return Task.CompletedTask;
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        bus?.Leave(this);
        return Task.CompletedTask;
    }

    public override async ValueTask PublishAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        if (bus is null)
        {
            return;
        }

        foreach (var other in bus.Others(this))
        {
            await other.Context!.DeliverAsync(message);
        }
    }

    public override ValueTask SetMemberAsync(SocketMember member, string? joined, string? left) => default;

    public override ValueTask RemoveMemberAsync(SocketMember member) => default;

    public override Task<ClusterResult<IReadOnlyList<SocketMember>>> GetRoomMembersAsync(string room, CancellationToken cancellationToken)
    {
        IReadOnlyList<SocketMember> members = [.. OtherMembers().Where(m => m.Rooms.Contains(room, StringComparer.Ordinal))];
        return Task.FromResult(new ClusterResult<IReadOnlyList<SocketMember>>(members, isComplete: true));
    }

    public override Task<ClusterResult<SocketMember?>> GetMemberAsync(string connectionId, CancellationToken cancellationToken)
    {
        var member = OtherMembers().FirstOrDefault(m => string.Equals(m.ConnectionId, connectionId, StringComparison.Ordinal));
        return Task.FromResult(new ClusterResult<SocketMember?>(member, isComplete: true));
    }

    public override Task<ClusterResult<SocketCounts>> GetCountsAsync(CancellationToken cancellationToken)
    {
        var namespaces = new Dictionary<string, int>(StringComparer.Ordinal);
        var rooms = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var member in OtherMembers())
        {
            namespaces[member.Namespace] = namespaces.GetValueOrDefault(member.Namespace) + 1;
            foreach (var room in member.Rooms)
            {
                rooms[room] = rooms.GetValueOrDefault(room) + 1;
            }
        }

        return Task.FromResult(new ClusterResult<SocketCounts>(new SocketCounts(namespaces, rooms), isComplete: true));
    }

    private IEnumerable<SocketMember> OtherMembers()
        => bus is null ? [] : bus.Others(this).SelectMany(static b => b.Context!.GetLocalMembers());
}

/// <summary>Connects the in-memory backplanes of the registries of one process.</summary>
internal sealed class InMemoryBackplaneBus
{
    private readonly Lock _lock = new();
    private InMemorySocketBackplane[] _members = [];

    public void Join(InMemorySocketBackplane backplane)
    {
        lock (_lock)
        {
            _members = [.. _members, backplane];
        }
    }

    public void Leave(InMemorySocketBackplane backplane)
    {
        lock (_lock)
        {
            _members = [.. _members.Where(m => m != backplane)];
        }
    }

    public IEnumerable<InMemorySocketBackplane> Others(InMemorySocketBackplane self) => Volatile.Read(ref _members).Where(m => m != self);
}
