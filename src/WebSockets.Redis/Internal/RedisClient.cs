using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace WebSockets.Redis.Internal;

/// <summary>
/// One logical connection to Redis that reconnects by itself: commands are pipelined in call order over one socket and
/// answered in order. While it is down, commands fail at once (they are not queued for later). A subscriber client
/// gets every pushed <c>message</c> through its push callback, one at a time, in the order Redis sent them.
/// </summary>
internal sealed partial class RedisClient : IAsyncDisposable
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly string _role;
    private readonly RedisEndpoint _endpoint;
    private readonly Func<CancellationToken, ValueTask<Stream>>? _streamFactory;
    private readonly Func<Connection, Task>? _onConnecting;
    private readonly Func<RedisReply, ValueTask>? _onPush;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _maxRetryDelay;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _firstConnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile Connection? _current;
    private Task? _running;

    public RedisClient(
        string role,
        RedisEndpoint endpoint,
        Func<CancellationToken, ValueTask<Stream>>? streamFactory,
        Func<Connection, Task>? onConnecting,
        Func<RedisReply, ValueTask>? onPush,
        ILogger logger,
        TimeProvider timeProvider,
        TimeSpan maxRetryDelay)
    {
        _role = role;
        _endpoint = endpoint;
        _streamFactory = streamFactory;
        _onConnecting = onConnecting;
        _onPush = onPush;
        _logger = logger;
        _timeProvider = timeProvider;
        _maxRetryDelay = maxRetryDelay;
    }

    /// <summary>Raised, on the connecting loop, each time the client is connected and ready.</summary>
    public event Action? Connected;

    /// <summary>Raised, on the connecting loop, each time a ready connection is lost.</summary>
    public event Action<Exception?>? Disconnected;

    public bool IsConnected => _current is not null;

    /// <summary>Completes when the client is first connected.</summary>
    public Task FirstConnected => _firstConnected.Task;

    public void Start() => _running ??= Task.Run(RunAsync);

    /// <summary>Sends a command; fails at once with <see cref="RedisConnectionException"/> while disconnected.</summary>
    public Task<RedisReply> ExecuteAsync(params RedisArg[] args)
        => _current is { } connection ? connection.SendAsync(args) : Task.FromException<RedisReply>(new RedisConnectionException($"The {_role} connection to Redis at {_endpoint} is down."));

    /// <summary>Drops the current connection, for example when it stopped answering; the client connects again.</summary>
    public void Abort(Exception reason) => _current?.Fail(reason);

    private async Task RunAsync()
    {
        var delay = FirstRetryDelay;
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            Connection? connection = null;
            Exception? failure = null;
            var wasReady = false;
            try
            {
                var stream = await OpenStreamAsync(token);
                connection = new Connection(stream, _onPush);
                connection.Start();
                await HandshakeAsync(connection).WaitAsync(_endpoint.ConnectTimeout, _timeProvider, token);
                if (_onConnecting is not null)
                {
                    await _onConnecting(connection).WaitAsync(_endpoint.ConnectTimeout, _timeProvider, token);
                }

                _current = connection;
                wasReady = true;
                delay = FirstRetryDelay;
                Log.Connected(_logger, _role, _endpoint.ToString());
                _firstConnected.TrySetResult();
                Connected?.Invoke();
                await connection.Completion.WaitAsync(token);
                failure = connection.Failure;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                failure = ex;
            }
            finally
            {
                _current = null;
                connection?.Fail(failure ?? new RedisConnectionException("The connection to Redis was closed."));
            }

            if (wasReady)
            {
                Disconnected?.Invoke(failure);
            }
            else if (_logger.IsEnabled(LogLevel.Debug))
            {
                Log.ConnectAttemptFailed(_logger, _role, _endpoint.ToString(), failure);
            }

            try
            {
                await Task.Delay(delay, _timeProvider, token);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _maxRetryDelay.Ticks));
        }
    }

    private async Task<Stream> OpenStreamAsync(CancellationToken token)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(_endpoint.ConnectTimeout);
        if (_streamFactory is not null)
        {
            return await _streamFactory(timeout.Token);
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            await socket.ConnectAsync(_endpoint.Host, _endpoint.Port, timeout.Token);
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (_endpoint.Ssl)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = _endpoint.SslHost ?? _endpoint.Host }, timeout.Token);
                stream = ssl;
            }

            return stream;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task HandshakeAsync(Connection connection)
    {
        if (_endpoint.Password is { } password)
        {
            (await (_endpoint.User is { } user ? connection.SendAsync(["AUTH", user, password]) : connection.SendAsync(["AUTH", password]))).ThrowIfError();
        }

        if (_endpoint.Database != 0 && _onPush is null)
        {
            (await connection.SendAsync(["SELECT", _endpoint.Database])).ThrowIfError();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        _stopping.Cancel();
        _current?.Fail(new RedisConnectionException("The backplane stopped."));
        if (_running is not null)
        {
            await _running.ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    /// <summary>One socket: a write loop that pipelines queued commands and a read loop that answers them in order.</summary>
    internal sealed class Connection
    {
        private readonly Stream _stream;
        private readonly Func<RedisReply, ValueTask>? _onPush;
        private readonly Channel<Pending> _outgoing = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
        private readonly Queue<Pending> _awaiting = new();
        private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _lock = new();
        private Exception? _failure;

        public Connection(Stream stream, Func<RedisReply, ValueTask>? onPush)
        {
            _stream = stream;
            _onPush = onPush;
        }

        public Task Completion => _completion.Task;

        public Exception? Failure => _failure;

        public void Start()
        {
            _ = Task.Run(WriteLoopAsync);
            _ = Task.Run(ReadLoopAsync);
        }

        public Task<RedisReply> SendAsync(RedisArg[] args)
        {
            var pending = new Pending(args);
            if (!_outgoing.Writer.TryWrite(pending))
            {
                return Task.FromException<RedisReply>(new RedisConnectionException("The connection to Redis was lost.", _failure));
            }

            return pending.Reply.Task;
        }

        public void Fail(Exception reason)
        {
            lock (_lock)
            {
                if (_failure is not null)
                {
                    return;
                }

                _failure = reason;
            }

            _outgoing.Writer.TryComplete();
            var lost = reason as RedisConnectionException ?? new RedisConnectionException("The connection to Redis was lost.", reason);
            lock (_lock)
            {
                while (_awaiting.TryDequeue(out var pending))
                {
                    pending.Reply.TrySetException(lost);
                }
            }

            while (_outgoing.Reader.TryRead(out var queued))
            {
                queued.Reply.TrySetException(lost);
            }

            try
            {
                _stream.Dispose();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
            {
            }

            _completion.TrySetResult();
        }

        private async Task WriteLoopAsync()
        {
            var writer = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
            var reader = _outgoing.Reader;
            try
            {
                while (await reader.WaitToReadAsync())
                {
                    while (reader.TryRead(out var pending))
                    {
                        lock (_lock)
                        {
                            if (_failure is not null)
                            {
                                pending.Reply.TrySetException(new RedisConnectionException("The connection to Redis was lost.", _failure));
                                continue;
                            }

                            _awaiting.Enqueue(pending);
                        }

                        RedisProtocol.WriteCommand(writer, pending.TakeArgs());
                        if (writer.UnflushedBytes > 64 * 1024)
                        {
                            await writer.FlushAsync();
                        }
                    }

                    await writer.FlushAsync();
                }
            }
            catch (Exception ex)
            {
                Fail(ex);
            }
        }

        private async Task ReadLoopAsync()
        {
            var reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
            try
            {
                // How far the reply at the buffer's start has been scanned, and how many of its elements are still to come.
                long scanned = 0, expected = 0;
                while (true)
                {
                    var result = await reader.ReadAsync();
                    var buffer = result.Buffer;
                    while (RedisProtocol.TryScan(buffer, ref scanned, ref expected))
                    {
                        var whole = new SequenceReader<byte>(buffer.Slice(0, scanned));
                        if (!RedisProtocol.TryRead(ref whole, out var reply))
                        {
                            throw new InvalidDataException("A reply from Redis could not be read.");
                        }

                        buffer = buffer.Slice(scanned);
                        scanned = 0;
                        expected = 0;
                        if (_onPush is not null && IsPushedMessage(reply))
                        {
                            await _onPush(reply);
                            continue;
                        }

                        Pending? pending;
                        lock (_lock)
                        {
                            _awaiting.TryDequeue(out pending);
                        }

                        if (pending is null)
                        {
                            throw new InvalidDataException("Redis sent a reply to no command.");
                        }

                        pending.Reply.TrySetResult(reply);
                        if (reply.Kind == RedisReplyKind.Error && reply.Bytes.AsSpan().StartsWith("NOSCRIPT"u8))
                        {
                            // Redis lost its scripts (SCRIPT FLUSH): every later EVALSHA of this pipeline fails too, and
                            // retrying each one would land out of order. A new connection loads them and rewrites presence.
                            throw new RedisConnectionException("Redis no longer knows the backplane's scripts; reconnecting to load them.");
                        }
                    }

                    reader.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted)
                    {
                        Fail(new RedisConnectionException("Redis closed the connection."));
                        return;
                    }
                }
            }
            catch (Exception ex)
            {
                Fail(ex);
            }
        }

        // Only "message" pushes go to the callback: every other reply of a subscribed connection (the "subscribe"
        // confirmation, the ["pong", ""] answer to a PING) answers the oldest command waiting for its reply.
        private static bool IsPushedMessage(RedisReply reply)
            => reply.Items is [{ Bytes: { } kind }, ..] && kind.AsSpan().SequenceEqual("message"u8);

        private sealed class Pending(RedisArg[] args)
        {
            private RedisArg[]? _args = args;

            public TaskCompletionSource<RedisReply> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public RedisArg[] TakeArgs()
            {
                var args = _args!;
                _args = null;
                return args;
            }
        }
    }
}
