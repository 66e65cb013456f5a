namespace WebSockets.Redis;

/// <summary>
/// Options of the Redis backplane, set with <c>AddRedisBackplane(…)</c>. They are validated when the host starts, and
/// every invalid value is reported at once.
/// </summary>
public sealed class RedisBackplaneOptions
{
    /// <summary>
    /// Gets or sets the Redis server to connect to: <c>host[:port]</c>, then optional comma-separated settings
    /// <c>user=</c>, <c>password=</c>, <c>ssl=true</c>, <c>sslHost=</c>, <c>connectTimeout=</c> (milliseconds, default
    /// 5000) and <c>defaultDatabase=</c> (for presence keys; pub/sub ignores databases), for example
    /// <c>"redis.internal:6380,password=secret,ssl=true"</c>. One server: Sentinel and Redis Cluster are not supported.
    /// The default is <c>"localhost:6379"</c>.
    /// </summary>
    public string Configuration { get; set; } = "localhost:6379";

    /// <summary>
    /// Gets or sets the prefix of every Redis channel and key of the app, so that several apps can share one Redis:
    /// servers with the same prefix form one cluster, and apps with different prefixes never see each other. The
    /// backplane uses the channel <c>{prefix}:bus</c> and keys that start with <c>{prefix}:</c> (the braces are a
    /// Redis Cluster hash tag). Must not be empty nor contain braces or white space. The default is <c>"websockets"</c>.
    /// </summary>
    public string ChannelPrefix { get; set; } = "websockets";

    /// <summary>
    /// Gets or sets how often this server tells Redis it is alive, refreshes the expiry of its presence, and removes the
    /// presence of servers whose heartbeat expired; the subscriber connection is PINGed as often. Must be between
    /// 100 milliseconds and 1 hour. The default is 5 seconds.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets how long a server's presence outlives its last heartbeat: a server that stops without a graceful
    /// shutdown leaves presence queries this long after its last heartbeat, and its keys in Redis expire then too.
    /// A heartbeat, or a PING of the subscriber connection, that gets no answer within it drops its connection. Must be at
    /// least twice <see cref="HeartbeatInterval"/> and at most 1 day. The default is 15 seconds.
    /// </summary>
    public TimeSpan PresenceTtl { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Gets or sets a function that opens a connected stream to Redis, used instead of a TCP connection to the host in
    /// <see cref="Configuration"/> (whose other settings, such as the password, still apply), for example to connect
    /// through a Unix socket or a custom TLS setup. It is called for each connection and reconnection, with a token
    /// canceled after the connect timeout. The default, <see langword="null"/>, connects over TCP.
    /// </summary>
    public Func<CancellationToken, ValueTask<Stream>>? ConnectionFactory { get; set; }
}
