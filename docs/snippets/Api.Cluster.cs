// Samples of docs/api.md: the backplane seam and the Redis package.
using System.Net.Sockets;
using WebSockets;
using WebSockets.Redis;

namespace DocsSnippets.Api;

#region api-backplane
/// <summary>A backplane for one server: nothing to publish to, no one else's presence to read.</summary>
public sealed class SingleServerBackplane : SocketBackplane
{
    private static readonly SocketCounts s_noCounts = new(new Dictionary<string, int>(), new Dictionary<string, int>());
    private SocketBackplaneContext? _context;

    public override Task StartAsync(SocketBackplaneContext context, CancellationToken cancellationToken)
    {
        // context.ServerId names this server; context.GetLocalMembers() lists its connections' presence.
        _context = context;
        return Task.CompletedTask;
    }

    public override Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // A real backplane sends the bytes to the other servers, which pass them to their context's DeliverAsync.
    public override ValueTask PublishAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken) => default;

    // What a real backplane calls when a message from another server arrives.
    public ValueTask OnReceivedAsync(ReadOnlyMemory<byte> message) => _context?.DeliverAsync(message) ?? default;

    public override ValueTask SetMemberAsync(SocketMember member, string? joined, string? left) => default;

    public override ValueTask RemoveMemberAsync(SocketMember member) => default;

    public override Task<ClusterResult<IReadOnlyList<SocketMember>>> GetRoomMembersAsync(string room, CancellationToken cancellationToken)
        => Task.FromResult(new ClusterResult<IReadOnlyList<SocketMember>>([], isComplete: true));

    public override Task<ClusterResult<SocketMember?>> GetMemberAsync(string connectionId, CancellationToken cancellationToken)
        => Task.FromResult(new ClusterResult<SocketMember?>(null, isComplete: true));

    public override Task<ClusterResult<SocketCounts>> GetCountsAsync(CancellationToken cancellationToken)
        => Task.FromResult(new ClusterResult<SocketCounts>(s_noCounts, isComplete: true));
}
#endregion

public static class ClusterSetup
{
    public static void Custom(WebApplicationBuilder builder)
    {
        #region api-backplane-register
        builder.Services.AddSocketRegistry();
        builder.Services.AddSingleton<SocketBackplane, SingleServerBackplane>(); // replaces the default, in any order
        #endregion
    }

    public static void Members()
    {
        #region api-member
        // Backplanes build members from what they stored; the registry builds them for its own connections.
        var member = new SocketMember("3Jv1x0sVQ8uYxk2tq5w3xA", "chat", userId: "alice", serverId: "server-1", rooms: ["lobby"]);
        var partial = new ClusterResult<SocketMember?>(member, isComplete: false, missingServers: ["server-2"]);
        var counts = new SocketCounts(new Dictionary<string, int> { ["chat"] = 2 }, new Dictionary<string, int> { ["lobby"] = 1 });
        Console.WriteLine($"{partial.Value?.UserId} {partial.IsComplete} {counts.Connections}"); // alice False 2
        #endregion
    }

    public static void Redis(WebApplicationBuilder builder, string mode)
    {
        #region api-redis
        var sockets = builder.Services.AddSocketRegistry();
        switch (mode)
        {
            case "local":
                sockets.AddRedisBackplane();                                      // localhost:6379
                break;
            case "configuration":
                sockets.AddRedisBackplane("redis.internal:6380,password=secret,ssl=true");
                break;
            case "both":
                sockets.AddRedisBackplane("redis.internal:6379", options => options.ChannelPrefix = "chat-app");
                break;
            default:
                sockets.AddRedisBackplane(options =>
                {
                    options.Configuration = "localhost:6379,defaultDatabase=2";
                    options.HeartbeatInterval = TimeSpan.FromSeconds(2);
                    options.PresenceTtl = TimeSpan.FromSeconds(6);               // at least twice the heartbeat
                    options.ConnectionFactory = async ct =>                       // a Unix socket instead of TCP
                    {
                        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                        await socket.ConnectAsync(new UnixDomainSocketEndPoint("/run/redis/redis.sock"), ct);
                        return new NetworkStream(socket, ownsSocket: true);
                    };
                });
                break;
        }
        #endregion
    }

    public static RedisBackplaneOptions Defaults() => new();
}
