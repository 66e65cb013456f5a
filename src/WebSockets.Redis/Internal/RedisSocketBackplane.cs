using System.Buffers.Binary;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace WebSockets.Redis.Internal;

/// <summary>
/// The Redis backplane. Messages: one pub/sub channel, <c>{prefix}:bus</c>, for every server of the app; each message
/// carries its origin server's ID so that a server drops its own. Presence: see <see cref="RedisScripts"/>. Two
/// connections: one for commands (publishes, presence writes, queries), one subscribed to the channel.
/// </summary>
internal sealed partial class RedisSocketBackplane : SocketBackplane, IAsyncDisposable
{
    private const byte EnvelopeVersion = 1;
    private const int JanitorBatch = 16;

    private readonly IOptions<RedisBackplaneOptions> _options;
    private readonly RedisBackplaneMetrics _metrics;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeProvider _timeProvider;
    private readonly Channel<PresenceOp> _presence = System.Threading.Channels.Channel.CreateUnbounded<PresenceOp>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _firstResync = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SocketBackplaneContext? _context;
    private RedisBackplaneOptions _settings = null!;
    private RedisClient? _commands;
    private RedisClient? _subscriber;
    private Task? _presenceLoop;
    private Task? _heartbeatLoop;
    private Task _subscriberCheck = Task.CompletedTask;
    private byte[] _serverIdBytes = [];
    private string _channel = string.Empty;
    private string _serversKey = string.Empty;
    private string _serverRoot = string.Empty;
    private string _ownBase = string.Empty;
    private long _ttlMs;
    private int _stopped;

    // Presence resyncs: at most one queued at a time; the heartbeat does not look for missing presence meanwhile.
    private int _resyncQueued;
    private volatile bool _resyncRunning;
    private volatile bool _presenceDirty;

    // Publishes lost in the current outage (logged once as a warning, then counted, and reported when it ends).
    private long _lostInOutage;
    private volatile string[] _knownServers = [];

    // Health: the endpoint, when the last heartbeat was answered, how long the last subscriber PING took (-1: none yet).
    private RedisEndpoint? _endpoint;
    private long _lastHeartbeat;
    private long _subscriberPingTicks = -1;

    public RedisSocketBackplane(IOptions<RedisBackplaneOptions> options, RedisBackplaneMetrics metrics, ILoggerFactory loggerFactory, TimeProvider timeProvider)
    {
        _options = options;
        _metrics = metrics;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("WebSockets.Redis.RedisBackplane");
        _timeProvider = timeProvider;
    }

    internal string ChannelName => _channel;

    internal string ServersKey => _serversKey;

    internal string ServerKeyBase(string serverId) => _serverRoot + serverId;

    internal bool IsConnected => _commands?.IsConnected == true;

    internal bool IsSubscribed => _subscriber?.IsConnected == true;

    public override async Task StartAsync(SocketBackplaneContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        _context = context;
        _settings = _options.Value;
        var failures = new List<string>();
        var endpoint = RedisEndpoint.Parse(_settings.Configuration, failures) ?? throw new OptionsValidationException(nameof(RedisBackplaneOptions), typeof(RedisBackplaneOptions), failures);
        _endpoint = endpoint;

        var prefix = "{" + _settings.ChannelPrefix + "}";
        _channel = prefix + ":bus";
        _serversKey = prefix + ":servers";
        _serverRoot = prefix + ":server:";
        _ownBase = _serverRoot + context.ServerId;
        _serverIdBytes = Encoding.UTF8.GetBytes(context.ServerId);
        _ttlMs = (long)_settings.PresenceTtl.TotalMilliseconds;

        var clientLogger = _loggerFactory.CreateLogger("WebSockets.Redis.RedisConnection");
        var maxRetry = TimeSpan.FromSeconds(1);
        _commands = new RedisClient("command", endpoint, _settings.ConnectionFactory, LoadScriptsAsync, onPush: null, clientLogger, _timeProvider, maxRetry);
        _subscriber = new RedisClient("subscriber", endpoint, _settings.ConnectionFactory, SubscribeAsync, OnPushAsync, clientLogger, _timeProvider, maxRetry);
        _commands.Connected += OnCommandsConnected;
        _commands.Disconnected += OnCommandsDisconnected;
        _subscriber.Connected += OnSubscriberConnected;
        _subscriber.Disconnected += OnSubscriberDisconnected;

        _presenceLoop = Task.Run(RunPresenceLoopAsync, CancellationToken.None);
        _heartbeatLoop = Task.Run(RunHeartbeatLoopAsync, CancellationToken.None);
        _commands.Start();
        _subscriber.Start();

        // Ready when subscribed and this server's (empty) presence is announced; a Redis that can't be reached does
        // not stop the server from starting: it serves its own connections and joins the others once Redis answers.
        var ready = Task.WhenAll(_subscriber.FirstConnected, _firstResync.Task);
        try
        {
            await ready.WaitAsync(endpoint.ConnectTimeout, _timeProvider, cancellationToken);
        }
        catch (TimeoutException)
        {
            Log.NotReachableAtStart(_logger, endpoint.ToString(), endpoint.ConnectTimeout);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0 || _commands is null)
        {
            return;
        }

        _stopping.Cancel();
        _presence.Writer.TryComplete();
        try
        {
            await Task.WhenAll(_presenceLoop!, _heartbeatLoop!).WaitAsync(cancellationToken);
            if (_commands.IsConnected)
            {
                // Queued after every presence write, so nothing is written back after it.
                (await EvalAsync(RedisScripts.Clear, [_serversKey], [_serverRoot, _context!.ServerId]).WaitAsync(cancellationToken)).ThrowIfError();
            }
        }
        catch (Exception ex)
        {
            Log.StopFailed(_logger, ex);
        }

        await DisposeClientsAsync();
    }

    /// <summary>For tests: ends as a crashed process would, leaving its presence in Redis to expire.</summary>
    internal async Task CrashAsync()
    {
        Interlocked.Exchange(ref _stopped, 1);
        _stopping.Cancel();
        _presence.Writer.TryComplete();
        await DisposeClientsAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Interlocked.Exchange(ref _stopped, 1);
        _stopping.Cancel();
        _presence.Writer.TryComplete();
        await DisposeClientsAsync();
        _stopping.Dispose();
    }

    private async Task DisposeClientsAsync()
    {
        if (_commands is { } commands)
        {
            commands.Connected -= OnCommandsConnected;
            commands.Disconnected -= OnCommandsDisconnected;
            await commands.DisposeAsync();
        }

        if (_subscriber is { } subscriber)
        {
            subscriber.Connected -= OnSubscriberConnected;
            subscriber.Disconnected -= OnSubscriberDisconnected;
            await subscriber.DisposeAsync();
        }
    }

    /// <summary>What the health check reports: a snapshot, safe to take from any thread.</summary>
    internal HealthSnapshot GetHealth()
    {
        var lastHeartbeat = Volatile.Read(ref _lastHeartbeat);
        var ping = Volatile.Read(ref _subscriberPingTicks);
        return new HealthSnapshot(
            Started: _commands is not null,
            Stopped: Volatile.Read(ref _stopped) != 0,
            Endpoint: _endpoint?.ToString(),
            Connected: IsConnected,
            Subscribed: IsSubscribed,
            HeartbeatAge: lastHeartbeat == 0 ? null : _timeProvider.GetElapsedTime(lastHeartbeat),
            SubscriberPing: ping < 0 ? null : TimeSpan.FromTicks(ping),
            LostInOutage: Interlocked.Read(ref _lostInOutage),
            OtherServers: _knownServers.Length,
            HeartbeatInterval: _options.Value.HeartbeatInterval,
            PresenceTtl: _options.Value.PresenceTtl);
    }

    internal readonly record struct HealthSnapshot(
        bool Started,
        bool Stopped,
        string? Endpoint,
        bool Connected,
        bool Subscribed,
        TimeSpan? HeartbeatAge,
        TimeSpan? SubscriberPing,
        long LostInOutage,
        int OtherServers,
        TimeSpan HeartbeatInterval,
        TimeSpan PresenceTtl);

    // ---- Connection events ---------------------------------------------------------------------------------

    private async Task LoadScriptsAsync(RedisClient.Connection connection)
    {
        // Loaded before the connection is used, so that no presence write meets NOSCRIPT and its retry lands out of order.
        foreach (var script in RedisScripts.All)
        {
            (await connection.SendAsync(["SCRIPT", "LOAD", script.Text])).ThrowIfError();
        }
    }

    private async Task SubscribeAsync(RedisClient.Connection connection)
        => (await connection.SendAsync(["SUBSCRIBE", _channel])).ThrowIfError();

    private void OnCommandsConnected()
    {
        var lost = Interlocked.Exchange(ref _lostInOutage, 0);
        if (_firstResync.Task.IsCompleted)
        {
            Log.ConnectionRestored(_logger, "command", lost);
        }

        // Redis may have lost everything (a restart without persistence) or kept what expired meanwhile: write it all.
        RequestResync();
    }

    private void OnCommandsDisconnected(Exception? exception)
    {
        Interlocked.Exchange(ref _lostInOutage, 0);
        Log.ConnectionLost(_logger, "command", exception);
    }

    private void OnSubscriberConnected()
    {
        if (_firstResync.Task.IsCompleted)
        {
            Log.ConnectionRestored(_logger, "subscriber", 0);
        }
    }

    private void OnSubscriberDisconnected(Exception? exception) => Log.ConnectionLost(_logger, "subscriber", exception);

    // ---- Messages ------------------------------------------------------------------------------------------

    public override ValueTask PublishAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        var commands = _commands;
        if (commands is null || !commands.IsConnected)
        {
            PublishLost(message.Length, null);
            return default;
        }

        // The one copy: the origin server's ID before the message. The same bytes go to every other server.
        var payload = new byte[4 + _serverIdBytes.Length + message.Length];
        payload[0] = EnvelopeVersion;
        payload[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(2), (ushort)_serverIdBytes.Length);
        _serverIdBytes.CopyTo(payload, 4);
        message.Span.CopyTo(payload.AsSpan(4 + _serverIdBytes.Length));

        // Handed to the connection's queue in call order; the reply is observed, not awaited, so that local delivery
        // never waits for Redis.
        var publishing = commands.ExecuteAsync("PUBLISH", _channel, payload);
        if (publishing.IsCompleted)
        {
            ObservePublish(publishing, payload.Length);
        }
        else
        {
            publishing.ContinueWith(
                static (task, state) =>
                {
                    var (self, length) = ((RedisSocketBackplane, int))state!;
                    self.ObservePublish(task, length);
                },
                (this, payload.Length),
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }

        return default;
    }

    private void ObservePublish(Task<RedisReply> publishing, int length)
    {
        if (publishing.IsCompletedSuccessfully && publishing.Result.Kind != RedisReplyKind.Error)
        {
            _metrics.Published();
            return;
        }

        var exception = publishing.Exception?.InnerException ?? (publishing.IsCompletedSuccessfully ? new RedisServerException(publishing.Result.AsString() ?? "ERR") : null);
        PublishLost(length, exception);
    }

    private void PublishLost(int length, Exception? exception)
    {
        _metrics.PublishFailed();
        if (Interlocked.Increment(ref _lostInOutage) == 1)
        {
            Log.PublishesLost(_logger);
        }

        Log.PublishFailed(_logger, length, exception);
    }

    private async ValueTask OnPushAsync(RedisReply reply)
    {
        // ["message", channel, payload]
        if (reply.Items is not [_, _, { Bytes: { } payload }])
        {
            return;
        }

        if (payload.Length < 4 || payload[0] != EnvelopeVersion)
        {
            Log.BadEnvelope(_logger, payload.Length);
            return;
        }

        var idLength = BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(2));
        if (payload.Length < 4 + idLength)
        {
            Log.BadEnvelope(_logger, payload.Length);
            return;
        }

        if (payload.AsSpan(4, idLength).SequenceEqual(_serverIdBytes))
        {
            return;
        }

        _metrics.Received();
        await _context!.DeliverAsync(payload.AsMemory(4 + idLength));
    }

    // ---- Presence writes -----------------------------------------------------------------------------------

    public override ValueTask SetMemberAsync(SocketMember member, string? joined, string? left)
    {
        ArgumentNullException.ThrowIfNull(member);
        _presence.Writer.TryWrite(new PresenceOp(PresenceOpKind.Set, member, left));
        return default;
    }

    public override ValueTask RemoveMemberAsync(SocketMember member)
    {
        ArgumentNullException.ThrowIfNull(member);
        _presence.Writer.TryWrite(new PresenceOp(PresenceOpKind.Remove, member, null));
        return default;
    }

    private void RequestResync()
    {
        if (Interlocked.Exchange(ref _resyncQueued, 1) == 0 && !_presence.Writer.TryWrite(new PresenceOp(PresenceOpKind.Resync, null, null)))
        {
            Volatile.Write(ref _resyncQueued, 0);
        }
    }

    /// <summary>
    /// Writes presence in the order it changed, one operation at a time onto the command connection's pipeline, without
    /// waiting for replies. A full resync reads the snapshot when its turn comes, so that whatever changes after it is
    /// written after it.
    /// </summary>
    private async Task RunPresenceLoopAsync()
    {
        var reader = _presence.Reader;
        while (await reader.WaitToReadAsync())
        {
            while (reader.TryRead(out var op))
            {
                if (op.Kind == PresenceOpKind.Resync)
                {
                    await ResyncAsync();
                    continue;
                }

                if (!_commands!.IsConnected)
                {
                    // The resync that follows the reconnection writes it.
                    continue;
                }

                var writing = op.Kind == PresenceOpKind.Set ? WriteMember(op.Member!, op.Left) : DeleteMember(op.Member!);
                Observe(writing);
            }
        }
    }

    private Task<RedisReply> WriteMember(SocketMember member, string? left)
    {
        var rooms = member.Rooms;
        var keys = new RedisArg[5 + rooms.Count];
        var args = new RedisArg[5 + rooms.Count];
        keys[0] = _ownBase + ":members";
        keys[1] = _ownBase + ":namespaces";
        keys[2] = _ownBase + ":ns:" + member.Namespace;
        keys[3] = _ownBase + ":rooms";
        keys[4] = left is null ? keys[3] : _ownBase + ":room:" + left;
        args[0] = member.ConnectionId;
        args[1] = RedisMemberJson.Serialize(member);
        args[2] = member.Namespace;
        args[3] = _ttlMs;
        args[4] = left ?? string.Empty;
        for (var i = 0; i < rooms.Count; i++)
        {
            keys[5 + i] = _ownBase + ":room:" + rooms[i];
            args[5 + i] = rooms[i];
        }

        return EvalAsync(RedisScripts.SetMember, keys, args);
    }

    private Task<RedisReply> DeleteMember(SocketMember member)
    {
        var rooms = member.Rooms;
        var keys = new RedisArg[4 + rooms.Count];
        var args = new RedisArg[2 + rooms.Count];
        keys[0] = _ownBase + ":members";
        keys[1] = _ownBase + ":namespaces";
        keys[2] = _ownBase + ":ns:" + member.Namespace;
        keys[3] = _ownBase + ":rooms";
        args[0] = member.ConnectionId;
        args[1] = member.Namespace;
        for (var i = 0; i < rooms.Count; i++)
        {
            keys[4 + i] = _ownBase + ":room:" + rooms[i];
            args[2 + i] = rooms[i];
        }

        return EvalAsync(RedisScripts.RemoveMember, keys, args);
    }

    private void Observe(Task<RedisReply> writing)
    {
        if (writing.IsCompletedSuccessfully && writing.Result.Kind != RedisReplyKind.Error)
        {
            return;
        }

        writing.ContinueWith(
            static (task, state) =>
            {
                var self = (RedisSocketBackplane)state!;
                if (!task.IsCompletedSuccessfully || task.Result.Kind == RedisReplyKind.Error)
                {
                    self._presenceDirty = true;
                    self._metrics.PresenceFailed();
                    Log.PresenceWriteFailed(self._logger, task.Exception?.InnerException ?? new RedisServerException(task.Result.AsString() ?? "ERR"));
                }
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private async Task ResyncAsync()
    {
        _resyncRunning = true;
        Volatile.Write(ref _resyncQueued, 0);
        try
        {
            if (!_commands!.IsConnected)
            {
                // The next connection asks again.
                return;
            }

            _presenceDirty = false;
            var members = _context!.GetLocalMembers();
            var writes = new List<Task<RedisReply>>(members.Count + 2)
            {
                // Out of the live set first, so that no one reads this server's part while it is rewritten.
                EvalAsync(RedisScripts.Clear, [_serversKey], [_serverRoot, _context.ServerId]),
            };
            foreach (var member in members)
            {
                writes.Add(WriteMember(member, left: null));
            }

            writes.Add(HeartbeatAsync(announce: true));
            await Task.WhenAll(writes).WaitAsync(_settings.PresenceTtl, _timeProvider);
            foreach (var write in writes)
            {
                write.Result.ThrowIfError();
            }

            ReadHeartbeat(writes[^1].Result);
            Log.PresenceResynced(_logger, members.Count);
            _firstResync.TrySetResult();
        }
        catch (Exception ex)
        {
            _presenceDirty = true;
            _metrics.PresenceFailed();
            Log.PresenceResyncFailed(_logger, ex);
        }
        finally
        {
            _resyncRunning = false;
        }
    }

    // ---- Heartbeat -----------------------------------------------------------------------------------------

    private Task<RedisReply> HeartbeatAsync(bool announce)
        => EvalAsync(RedisScripts.Heartbeat, [_serversKey], [_serverRoot, _context!.ServerId, _ttlMs, announce ? "1" : "0", JanitorBatch]);

    private async Task RunHeartbeatLoopAsync()
    {
        using var timer = new PeriodicTimer(_settings.HeartbeatInterval, _timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                // The subscriber is checked on its own: a half-open subscriber socket loses every message unseen.
                if (_subscriberCheck.IsCompleted)
                {
                    _subscriberCheck = CheckSubscriberAsync();
                }

                if (!_commands!.IsConnected)
                {
                    continue;
                }

                if (_presenceDirty && !_resyncRunning)
                {
                    RequestResync();
                }

                try
                {
                    var reply = (await HeartbeatAsync(announce: false).WaitAsync(_settings.PresenceTtl, _timeProvider, _stopping.Token)).ThrowIfError();
                    if (!ReadHeartbeat(reply) && Volatile.Read(ref _resyncQueued) == 0 && !_resyncRunning)
                    {
                        Log.PresenceMissing(_logger);
                        RequestResync();
                    }
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                {
                    return;
                }
                catch (TimeoutException)
                {
                    Log.HeartbeatTimedOut(_logger, _settings.PresenceTtl);
                    _commands.Abort(new TimeoutException("The heartbeat to Redis got no answer."));
                }
                catch (Exception ex)
                {
                    Log.HeartbeatFailed(_logger, ex);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        await _subscriberCheck;
    }

    /// <summary>
    /// PINGs the subscriber connection (allowed in subscribed mode, where the answer is <c>["pong", ""]</c>, matched to the
    /// PING like any reply) and drops it if no answer comes within <see cref="RedisBackplaneOptions.PresenceTtl"/>: the
    /// client then connects again and re-subscribes. Never throws.
    /// </summary>
    private async Task CheckSubscriberAsync()
    {
        var subscriber = _subscriber!;
        if (!subscriber.IsConnected)
        {
            return;
        }

        try
        {
            var started = _timeProvider.GetTimestamp();
            (await subscriber.ExecuteAsync("PING").WaitAsync(_settings.PresenceTtl, _timeProvider, _stopping.Token)).ThrowIfError();
            Volatile.Write(ref _subscriberPingTicks, _timeProvider.GetElapsedTime(started).Ticks);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (TimeoutException)
        {
            // A PING of a connection that failed fails at once; one that times out was sent on the current connection.
            Log.SubscriberPingTimedOut(_logger, _settings.PresenceTtl);
            subscriber.Abort(new TimeoutException("The subscriber connection to Redis did not answer a PING."));
        }
        catch (Exception ex)
        {
            Log.SubscriberPingFailed(_logger, ex);
        }
    }

    /// <summary>Reads { present, removed, live } and keeps the live servers for answers when Redis is unreachable.</summary>
    private bool ReadHeartbeat(RedisReply reply)
    {
        Volatile.Write(ref _lastHeartbeat, _timeProvider.GetTimestamp());
        var items = reply.AsArray();
        if (items.Length < 3)
        {
            return true;
        }

        var removed = items[1].AsArray();
        if (removed.Length > 0)
        {
            Log.DeadServersRemoved(_logger, string.Join(", ", removed.Select(r => r.AsString())));
        }

        _knownServers = [.. items[2].AsArray().Select(r => r.AsString()!).Where(id => id != _context!.ServerId)];
        return items[0].Integer == 1;
    }

    // ---- Queries -------------------------------------------------------------------------------------------

    public override Task<ClusterResult<IReadOnlyList<SocketMember>>> GetRoomMembersAsync(string room, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(room);
        return QueryAsync<IReadOnlyList<SocketMember>>(
            serverId => EvalAsync(RedisScripts.RoomMembers, [ServerKeyBase(serverId) + ":room:" + room, ServerKeyBase(serverId) + ":members"], []),
            static parts => [.. parts.SelectMany(p => p.AsArray()).Select(v => RedisMemberJson.Deserialize(v.Bytes!)).OfType<SocketMember>()],
            cancellationToken);
    }

    public override Task<ClusterResult<SocketMember?>> GetMemberAsync(string connectionId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connectionId);
        return QueryAsync(
            serverId => _commands!.ExecuteAsync("HGET", ServerKeyBase(serverId) + ":members", connectionId),
            static parts => parts.Where(p => p.Bytes is not null).Select(p => RedisMemberJson.Deserialize(p.Bytes!)).FirstOrDefault(m => m is not null),
            cancellationToken);
    }

    public override Task<ClusterResult<SocketCounts>> GetCountsAsync(CancellationToken cancellationToken)
        => QueryAsync(
            serverId => EvalAsync(RedisScripts.Counts, [ServerKeyBase(serverId) + ":namespaces", ServerKeyBase(serverId) + ":rooms"], [ServerKeyBase(serverId)]),
            static parts =>
            {
                var namespaces = new Dictionary<string, int>(StringComparer.Ordinal);
                var rooms = new Dictionary<string, int>(StringComparer.Ordinal);
                foreach (var part in parts)
                {
                    var items = part.AsArray();
                    if (items.Length == 0)
                    {
                        continue;
                    }

                    var namespaceCount = (int)items[0].Integer;
                    for (var i = 1; i + 1 < items.Length; i += 2)
                    {
                        var target = (i - 1) / 2 < namespaceCount ? namespaces : rooms;
                        var name = items[i].AsString()!;
                        var count = (int)items[i + 1].Integer;
                        if (count > 0)
                        {
                            target[name] = target.GetValueOrDefault(name) + count;
                        }
                    }
                }

                return new SocketCounts(namespaces, rooms);
            },
            cancellationToken);

    /// <summary>
    /// Two round trips: the live servers, then every live server's part at once, pipelined. Whatever is not read by the
    /// deadline, or can't be read, is missing from an incomplete answer; nothing is thrown for it.
    /// </summary>
    private async Task<ClusterResult<T>> QueryAsync<T>(Func<string, Task<RedisReply>> readPart, Func<List<RedisReply>, T> merge, CancellationToken cancellationToken)
    {
        var commands = _commands;
        if (commands is null || !commands.IsConnected)
        {
            return Incomplete(merge([]), _knownServers, null);
        }

        string[] live;
        try
        {
            var reply = (await EvalAsync(RedisScripts.LiveServers, [_serversKey], []).WaitAsync(cancellationToken)).ThrowIfError();
            live = [.. reply.AsArray().Select(r => r.AsString()!).Where(id => id != _context!.ServerId)];
        }
        catch (Exception ex)
        {
            return Incomplete(merge([]), _knownServers, ex);
        }

        var reads = new Task<RedisReply>[live.Length];
        for (var i = 0; i < live.Length; i++)
        {
            reads[i] = readPart(live[i]);
        }

        Exception? failure = null;
        try
        {
            await Task.WhenAll(reads).WaitAsync(cancellationToken);
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        var parts = new List<RedisReply>(reads.Length);
        List<string>? missing = null;
        for (var i = 0; i < reads.Length; i++)
        {
            if (reads[i].IsCompletedSuccessfully && reads[i].Result.Kind != RedisReplyKind.Error)
            {
                parts.Add(reads[i].Result);
            }
            else
            {
                (missing ??= []).Add(live[i]);
            }
        }

        var value = merge(parts);
        return missing is null ? new ClusterResult<T>(value, isComplete: true) : Incomplete(value, missing, failure);
    }

    private ClusterResult<T> Incomplete<T>(T value, IReadOnlyList<string> missing, Exception? exception)
    {
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.QueryIncomplete(_logger, string.Join(", ", missing), exception);
        }

        return new ClusterResult<T>(value, isComplete: false, missing);
    }

    private Task<RedisReply> EvalAsync(RedisScripts.Script script, RedisArg[] keys, RedisArg[] args)
    {
        var command = new RedisArg[3 + keys.Length + args.Length];
        command[0] = "EVALSHA";
        command[1] = script.Sha1;
        command[2] = keys.Length;
        keys.CopyTo(command, 3);
        args.CopyTo(command, 3 + keys.Length);
        // No EVAL retry on NOSCRIPT: it would land after later writes. The connection drops on NOSCRIPT instead, and the
        // reconnection loads the scripts and rewrites presence in full.
        return _commands!.ExecuteAsync(command);
    }

    private enum PresenceOpKind : byte
    {
        Set,
        Remove,
        Resync,
    }

    private readonly record struct PresenceOp(PresenceOpKind Kind, SocketMember? Member, string? Left);
}
