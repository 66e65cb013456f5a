using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Security.Claims;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace WebSockets.Internal;

/// <summary>
/// One connection: a read pump and a write pump bridged by a bounded queue. Only the holder of the writer lease touches
/// the WebSocket for sending, so any number of threads can send at once. The write pump holds the lease, except while it
/// waits on an empty queue: then a reply made on the read pump may take it and be sent inline.
/// </summary>
internal sealed partial class SocketConnection : ISocketConnection
{
    private const int StateOpen = 0;
    private const int StateClosing = 1;
    private const int StateClosed = 2;
    private const int NoReason = -1;

    /// <summary>How long a connection that broke the protocol waits for the client to close before it is torn down.</summary>
    internal static readonly TimeSpan ProtocolErrorLinger = TimeSpan.FromSeconds(1);

    // Who may write to the socket right now (the writer lease). The write pump holds it except while it waits on an
    // empty queue; then a handler of this connection, replying on the read pump, may take it and send inline.
    private const int WriterNone = 0;
    private const int WriterPump = 1;
    private const int WriterInline = 2;
    private const int WriterInlineAwaited = 3; // inline, and the write pump waits to take the lease over

    /// <summary>The connection whose read pump is dispatching a message on this thread, if any.</summary>
    [ThreadStatic]
    private static SocketConnection? s_dispatching;

    private readonly SocketRegistry _registry;
    private readonly EndpointRuntime _endpoint;
    private readonly NamespaceState _namespace;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly Channel<SocketMessage> _queue;
    private readonly CancellationTokenSource _closedCts = new();
    private readonly TaskCompletionSource _closeRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly System.Threading.RateLimiting.TokenBucketRateLimiter? _rateLimiter;
    private readonly CancellationToken _requestAborted;

    private ClaimsPrincipal _user;
    private WebSocket? _socket;
    private Task _writing = Task.CompletedTask;
    private ITimer? _idleTimer;
    private int _state = StateOpen;
    private int _reason = NoReason;
    private int _writer = WriterPump;
    private TaskCompletionSource? _writerWaiter;
    private volatile bool _discardQueue;
    private volatile bool _writeFailed;
    private WebSocketCloseStatus _serverCloseStatus = WebSocketCloseStatus.NormalClosure;
    private string? _serverCloseDescription;
    private TimeSpan _closeTimeout;
    private WebSocketCloseStatus? _closeStatus;
    private string? _closeStatusDescription;
    private long _lastReceivedTimestamp;
    private byte[]? _receiveBuffer;
    private IHeaderDictionary _headers;
    private readonly bool _ownsHeaders;
    private readonly bool _ownsQuery;
    private IQueryCollection _query;

    public SocketConnection(string id, HttpContext httpContext, string? subProtocol, SocketRegistry registry, EndpointRuntime endpoint, NamespaceState ns)
    {
        Id = id;
        _registry = registry;
        _endpoint = endpoint;
        _namespace = ns;
        _logger = registry.ConnectionLogger;
        _timeProvider = registry.TimeProvider;
        _closeTimeout = registry.Options.CloseTimeout;
        _user = httpContext.User;
        _headers = WithoutAuthorization(httpContext.Request.Headers);
        _query = WithoutAccessToken(httpContext.Request.Query);
        _ownsHeaders = !ReferenceEquals(_headers, httpContext.Request.Headers);
        _ownsQuery = !ReferenceEquals(_query, httpContext.Request.Query);
        RemoteIpAddress = httpContext.Connection.RemoteIpAddress;
        SubProtocol = subProtocol;
        ConnectedAt = _timeProvider.GetUtcNow();
        _rateLimiter = CreateRateLimiter(endpoint);
        _requestAborted = httpContext.RequestAborted;
        UpgradeActivityContext = System.Diagnostics.Activity.Current?.Context ?? default;

        var mode = registry.Options.SendQueueFullMode;
        var channelOptions = new BoundedChannelOptions(registry.Options.SendQueueCapacity)
        {
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
            FullMode = mode == SendQueueFullMode.DropOldest ? BoundedChannelFullMode.DropOldest : BoundedChannelFullMode.Wait,
        };
        _queue = mode == SendQueueFullMode.DropOldest
            ? Channel.CreateBounded<SocketMessage>(channelOptions, _ => OnMessageDropped())
            : Channel.CreateBounded<SocketMessage>(channelOptions);
    }

    public string Id { get; }

    public string Namespace => _namespace.Name;

    public ClaimsPrincipal User => Volatile.Read(ref _user);

    public IQueryCollection Query => _query;

    public IHeaderDictionary Headers => _headers;

    public IPAddress? RemoteIpAddress { get; }

    public string? SubProtocol { get; }

    public SocketSession Session { get; } = new();

    public bool IsOpen => Volatile.Read(ref _state) == StateOpen;

    public CancellationToken ConnectionClosed => _closedCts.Token;

    public WebSocketCloseStatus? CloseStatus => _closeStatus;

    public string? CloseStatusDescription => _closeStatusDescription;

    internal NamespaceState NamespaceState => _namespace;

    /// <summary>The span of the upgrade request, if one was recorded: handled messages' spans link to it.</summary>
    internal System.Diagnostics.ActivityContext UpgradeActivityContext { get; }

    /// <summary>Completes when the connection has ended and its disconnect hooks have run.</summary>
    internal Task Completion => _completed.Task;

    internal DisconnectReason Reason => _reason == NoReason ? DisconnectReason.ConnectionLost : (DisconnectReason)_reason;

    /// <summary>Whether a receive buffer is rented right now (idle connections hold none).</summary>
    internal bool HoldsReceiveBuffer => Volatile.Read(ref _receiveBuffer) is not null;

    internal int QueuedMessages => _queue.Reader.Count;

    /// <summary>When the upgrade request arrived.</summary>
    internal DateTimeOffset ConnectedAt { get; }

    // ---- Sending -------------------------------------------------------------------------------------------

    public ValueTask SendAsync(SocketMessage message, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _state) != StateOpen)
        {
            return default;
        }

        if (s_dispatching == this && TrySendInline(message))
        {
            return default;
        }

        if (_queue.Writer.TryWrite(message))
        {
            return default;
        }

        return SendQueueFullAsync(message, cancellationToken);
    }

    public ValueTask SendAsync(string text, CancellationToken cancellationToken = default)
        => SendAsync(SocketMessage.Text(text), cancellationToken);

    public ValueTask SendAsync(byte[] data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        return SendAsync(SocketMessage.Binary(data), cancellationToken);
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        => SendAsync(SocketMessage.Binary(data.ToArray()), cancellationToken);

    public ValueTask SendAsync<T>(T value, CancellationToken cancellationToken = default)
        => SendAsync(MessageFactory.Create(value, _registry.Options.JsonSerializerOptions), cancellationToken);

    /// <summary>Queues without waiting or applying the full-queue policy; false when full or closing.</summary>
    internal bool TryQueueDirect(SocketMessage message) => Volatile.Read(ref _state) == StateOpen && _queue.Writer.TryWrite(message);

    private ValueTask SendQueueFullAsync(SocketMessage message, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _state) != StateOpen)
        {
            return default; // the queue was completed by a close, not filled
        }

        switch (_registry.Options.SendQueueFullMode)
        {
            case SendQueueFullMode.Wait:
                return WaitForRoomAsync(message, cancellationToken);
            case SendQueueFullMode.Close:
                Log.SlowConsumer(_logger, Id, _registry.Options.SendQueueCapacity);
                RequestClose(WebSocketCloseStatus.PolicyViolation, "Send queue full: the client is not reading fast enough.", DisconnectReason.SlowConsumer, drain: false);
                return default;
            default:
                // DropNewest; DropOldest never reports a full queue.
                OnMessageDropped();
                return default;
        }
    }

    private async ValueTask WaitForRoomAsync(SocketMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await _queue.Writer.WriteAsync(message, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            // Closed while waiting: like any send to a closing connection, the message is discarded.
        }
    }

    /// <summary>
    /// Sends a reply on the read pump's thread when the write pump waits on an empty queue, which saves waking the
    /// pump on the thread pool for every reply. The writer lease keeps one writer at a time, and an empty queue keeps
    /// the order: nothing queued earlier is still unsent. False when the message must be queued instead.
    /// </summary>
    private bool TrySendInline(SocketMessage message)
    {
        if (Interlocked.CompareExchange(ref _writer, WriterInline, WriterNone) != WriterNone)
        {
            return false;
        }

        if (_queue.Reader.Count != 0 || Volatile.Read(ref _state) != StateOpen)
        {
            ReleaseInlineWriter();
            return false;
        }

        ValueTask sending;
        try
        {
            sending = _socket!.SendAsync(message.Data, message.MessageType, WebSocketMessageFlags.EndOfMessage, _closedCts.Token);
        }
        catch (Exception ex)
        {
            OnInlineSendFailed(ex);
            return true;
        }

        if (!sending.IsCompleted)
        {
            // The socket pushes back: let the send finish in the background, as the write pump would have.
            _ = CompleteInlineSendAsync(sending, message.Data.Length);
            return true;
        }

        try
        {
            sending.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            OnInlineSendFailed(ex);
            return true;
        }

        _registry.Metrics.MessageSent(Namespace, message.Data.Length);
        ReleaseInlineWriter();
        return true;
    }

    private async Task CompleteInlineSendAsync(ValueTask sending, int length)
    {
        try
        {
            await sending;
        }
        catch (Exception ex)
        {
            OnInlineSendFailed(ex);
            return;
        }

        _registry.Metrics.MessageSent(Namespace, length);
        ReleaseInlineWriter();
    }

    /// <summary>Ends an inline send: frees the lease, or hands it to the write pump when it waits for it.</summary>
    private void ReleaseInlineWriter()
    {
        if (Interlocked.CompareExchange(ref _writer, WriterNone, WriterInline) != WriterInline)
        {
            Volatile.Write(ref _writer, WriterPump);
            Volatile.Read(ref _writerWaiter)!.TrySetResult();
        }
    }

    /// <summary>
    /// A failed inline send ends the connection as a failed write pump does: the pump discards what is queued and
    /// sends nothing more, not even a close frame.
    /// </summary>
    private void OnInlineSendFailed(Exception ex)
    {
        if (ex is not OperationCanceledException)
        {
            TrySetReason(DisconnectReason.ConnectionLost);
            if (IsTransportFailure(ex))
            {
                Log.SendFailed(_logger, Id, ex);
            }
            else
            {
                Log.WritePumpFailed(_logger, Id, ex);
            }
        }

        _writeFailed = true;
        _discardQueue = true;
        RequestClose(WebSocketCloseStatus.NormalClosure, null, DisconnectReason.ConnectionLost, drain: true);
        ReleaseInlineWriter();
    }

    /// <summary>Takes the writer lease for the write pump, waiting for an inline send to finish if one runs.</summary>
    private ValueTask AcquirePumpWriterAsync()
    {
        while (true)
        {
            if (Interlocked.CompareExchange(ref _writer, WriterPump, WriterNone) == WriterNone)
            {
                return default;
            }

            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _writerWaiter, waiter);
            if (Interlocked.CompareExchange(ref _writer, WriterInlineAwaited, WriterInline) == WriterInline)
            {
                return new ValueTask(waiter.Task);
            }

            // The inline send ended in between: the lease is free again.
        }
    }

    private void OnMessageDropped()
    {
        _registry.Metrics.MessageDropped(Namespace);
        Log.MessageDropped(_logger, Id, _registry.Options.SendQueueFullMode);
    }

    // ---- Closing -------------------------------------------------------------------------------------------

    public Task CloseAsync(WebSocketCloseStatus closeStatus = WebSocketCloseStatus.NormalClosure, string? statusDescription = null)
    {
        RequestClose(closeStatus, statusDescription, DisconnectReason.ServerClosed, drain: true);
        return _writing;
    }

    public void Abort()
    {
        TrySetReason(DisconnectReason.ServerClosed);
        AbortCore();
    }

    /// <summary>
    /// Stops accepting messages, then lets the write pump flush (or discard) the queue and send a close frame.
    /// The connection is aborted if this does not finish within <paramref name="timeout"/> (default: CloseTimeout).
    /// The first reason given wins.
    /// </summary>
    internal void RequestClose(WebSocketCloseStatus status, string? description, DisconnectReason reason, bool drain, TimeSpan? timeout = null)
    {
        TrySetReason(reason);
        if (Interlocked.CompareExchange(ref _state, StateClosing, StateOpen) != StateOpen)
        {
            return;
        }

        _serverCloseStatus = status;
        _serverCloseDescription = description;
        if (timeout is { } t)
        {
            _closeTimeout = t;
        }

        if (!drain)
        {
            _discardQueue = true;
        }

        _queue.Writer.TryComplete();
        _closeRequested.TrySetResult();
    }

    /// <summary>Records why the connection ends; the first reason wins. Returns whether this one did.</summary>
    private bool TrySetReason(DisconnectReason reason) => Interlocked.CompareExchange(ref _reason, (int)reason, NoReason) == NoReason;

    private void AbortCore()
    {
        Interlocked.CompareExchange(ref _state, StateClosing, StateOpen);
        _discardQueue = true;
        _queue.Writer.TryComplete();
        _closeRequested.TrySetResult();

        // Canceling runs registered callbacks, which can be user code: never inline on the caller's thread.
        ThreadPool.UnsafeQueueUserWorkItem(static c =>
        {
            c.CancelClosedToken();
            c._socket?.Abort();
        }, this, preferLocal: false);
    }

    // ---- Lifetime ------------------------------------------------------------------------------------------

    /// <summary>Starts the write pump, so that connect hooks can already send.</summary>
    internal void Start(WebSocket socket)
    {
        _socket = socket;
        _lastReceivedTimestamp = _timeProvider.GetTimestamp();
        _writing = WritePumpAsync(socket);
    }

    /// <summary>Runs the read pump (unless a connect hook failed) and returns when both pumps are done.</summary>
    internal async Task RunAsync(bool startReading)
    {
        var socket = _socket!;
        var reading = startReading && IsOpen ? ReadPumpAsync(socket) : Task.CompletedTask;
        if (_endpoint.IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            var period = _endpoint.IdleTimeout / 2;
            _idleTimer = _timeProvider.CreateTimer(static s => ((SocketConnection)s!).CheckIdle(), this, period, period);
        }

        StartAuthenticationExpiry();

        await Task.WhenAny(reading, _writing, _closeRequested.Task);

        // Whichever pump ended, or whoever asked for the close, the connection is closing now. A client close
        // frame or a lost transport ends the read pump; the write pump then flushes and answers the close.
        RequestClose(WebSocketCloseStatus.NormalClosure, null, DisconnectReason.ConnectionLost, drain: true);
        var both = Task.WhenAll(reading, _writing);
        try
        {
            await both.WaitAsync(_closeTimeout, _timeProvider);
        }
        catch (TimeoutException)
        {
            Log.CloseTimedOut(_logger, Id, _closeTimeout);
            AbortCore();
            await both;
        }

        if (_idleTimer is not null)
        {
            await _idleTimer.DisposeAsync();
        }

        await StopAuthenticationExpiryAsync();

        Volatile.Write(ref _state, StateClosed);
        if (_closeStatus is null && socket.CloseStatus is { } status && Reason != DisconnectReason.ConnectionLost)
        {
            _closeStatus = status;
            _closeStatusDescription = socket.CloseStatusDescription;
        }

        if (Reason == DisconnectReason.ProtocolError)
        {
            await LingerAsync();
        }

        socket.Dispose();
        _rateLimiter?.Dispose(); // the read pump, its only user, is done
        CancelClosedToken();
        await CompleteEventsAsync();
    }

    /// <summary>
    /// After a protocol error the WebSocket sends its close frame and gives up the connection at once. Ending the
    /// request right then can reset the TCP connection before the close frame has left the server, and the client never
    /// learns why (about one close in eight was lost on a loaded machine). So the request lingers until the client
    /// closes its end, or <see cref="ProtocolErrorLinger"/> (at most CloseTimeout) has passed.
    /// </summary>
    private async Task LingerAsync()
    {
        var linger = _closeTimeout < ProtocolErrorLinger ? _closeTimeout : ProtocolErrorLinger;
        try
        {
            await Task.Delay(linger, _timeProvider, _requestAborted);
        }
        catch (OperationCanceledException)
        {
            // The client closed its end.
        }
    }

    /// <summary>Cancels <see cref="ConnectionClosed"/>. Callbacks registered on it are user code: one that throws is logged.</summary>
    private void CancelClosedToken()
    {
        try
        {
            _closedCts.Cancel();
        }
        catch (AggregateException ex)
        {
            Log.ClosedCallbackFailed(_logger, Id, ex);
        }
    }

    /// <summary>Copies what the connection exposes of its request, which is recycled once the endpoint returns.</summary>
    internal void DetachFromRequest()
    {
        // A copy made when the credentials were removed is the connection's own already.
        if (!_ownsHeaders)
        {
            _headers = new HeaderDictionary(_headers.ToDictionary(static h => h.Key, static h => h.Value, StringComparer.OrdinalIgnoreCase));
        }

        if (!_ownsQuery)
        {
            _query = new QueryCollection(_query.ToDictionary(static q => q.Key, static q => q.Value, StringComparer.OrdinalIgnoreCase));
        }
    }

    internal void MarkCompleted() => _completed.TrySetResult();

    private void CheckIdle()
    {
        if (IsOpen && _timeProvider.GetElapsedTime(Volatile.Read(ref _lastReceivedTimestamp)) >= _endpoint.IdleTimeout)
        {
            Log.IdleTimeout(_logger, Id, _endpoint.IdleTimeout);
            RequestClose(WebSocketCloseStatus.NormalClosure, "Idle timeout", DisconnectReason.IdleTimeout, drain: true);
        }
    }

    // ---- Write pump ----------------------------------------------------------------------------------------

    private async Task WritePumpAsync(WebSocket socket)
    {
        var reader = _queue.Reader;
        var token = _closedCts.Token;
        var discarded = 0;
        var sending = false;
        var metrics = _registry.Metrics;
        try
        {
            // The pump holds the writer lease (it starts with it) while it sends, and lends it out only while it
            // waits on an empty queue. No token here: with a cancelable one the channel allocates a waiter on every
            // idle wake-up. A close or an abort completes the queue, which ends this wait.
            while (true)
            {
                while (reader.TryRead(out var message))
                {
                    if (_discardQueue)
                    {
                        discarded++;
                        continue;
                    }

                    sending = true;
                    await socket.SendAsync(message.Data, message.MessageType, WebSocketMessageFlags.EndOfMessage, token);
                    sending = false;
                    metrics.MessageSent(Namespace, message.Data.Length);
                }

                Volatile.Write(ref _writer, WriterNone);
                var more = await reader.WaitToReadAsync();
                await AcquirePumpWriterAsync();
                if (!more)
                {
                    break;
                }
            }

            // The lease is kept from here on: nothing is sent inline any more. A failed inline send leaves nothing
            // to do: the socket is broken.
            if (_writeFailed)
            {
                return;
            }

            // The queue is complete. Unless it is being discarded, send what batches still hold: a clean close
            // or a shutdown loses nothing batched.
            if (!_discardQueue)
            {
                await FlushBatchesAsync(socket, token);
            }

            // Answer the client's close frame, or send ours.
            var state = socket.State;
            if (state == WebSocketState.CloseReceived)
            {
                await socket.CloseOutputAsync(socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, socket.CloseStatusDescription, token);
            }
            else if (state == WebSocketState.Open)
            {
                _closeStatus ??= _serverCloseStatus;
                _closeStatusDescription ??= _serverCloseDescription;
                await socket.CloseOutputAsync(_serverCloseStatus, _serverCloseDescription, token);
            }
        }
        catch (OperationCanceledException)
        {
            // Aborted.
        }
        catch (Exception ex) when (IsTransportFailure(ex))
        {
            TrySetReason(DisconnectReason.ConnectionLost);
            Log.SendFailed(_logger, Id, ex);
        }
        catch (Exception ex)
        {
            TrySetReason(DisconnectReason.ConnectionLost);
            Log.WritePumpFailed(_logger, Id, ex);
        }
        finally
        {
            // Whatever was accepted and never written is reported, not silently lost. Complete the queue first (a failed
            // send ends the pump before the connection completes it), so that nothing can join it after the count: a
            // sender waiting for room, or a batch flush, then finds it closed. A send that failed midway counts too.
            _queue.Writer.TryComplete();
            if (sending)
            {
                discarded++;
            }

            while (reader.TryRead(out _))
            {
                discarded++;
            }

            if (discarded > 0)
            {
                _registry.Metrics.MessagesDiscarded(Namespace, discarded);
                Log.QueuedMessagesDiscarded(_logger, Id, discarded, Reason);
            }
        }
    }

    // ---- Read pump -----------------------------------------------------------------------------------------

    /// <summary>
    /// Reads messages until the connection closes. Each message is received into a pooled buffer that is returned
    /// once the message has been handled; one state machine serves the connection's whole life, so a message costs
    /// no allocation here.
    /// </summary>
    private async Task ReadPumpAsync(WebSocket socket)
    {
        var token = _closedCts.Token;
        var maxMessageSize = _endpoint.MaxMessageSize;
        var dispatcher = _endpoint.Dispatcher;
        var readingText = false;
        try
        {
            while (true)
            {
                // A zero-byte read waits for the next message without holding a buffer.
                readingText = false;
                var head = await socket.ReceiveAsync(Memory<byte>.Empty, token);
                if (head.MessageType == WebSocketMessageType.Close)
                {
                    OnCloseReceived(socket);
                    return;
                }

                // An empty message is complete after the zero-byte read: there is nothing more to read.
                var complete = head.EndOfMessage;
                readingText = head.MessageType == WebSocketMessageType.Text;
                var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(_endpoint.ReceiveBufferSize, maxMessageSize + 1));
                Volatile.Write(ref _receiveBuffer, buffer);
                try
                {
                    var count = 0;
                    while (!complete)
                    {
                        if (count == buffer.Length)
                        {
                            // Grow up to one byte past the limit, so that an oversized message is detected, never truncated.
                            var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, (long)maxMessageSize + 1));
                            buffer.AsSpan(0, count).CopyTo(larger);
                            ArrayPool<byte>.Shared.Return(buffer);
                            buffer = larger;
                            Volatile.Write(ref _receiveBuffer, buffer);
                        }

                        // Never ask for more than one byte past the limit: the WebSocket fills the memory it is given
                        // when the frame declares that much, and a pooled buffer can be twice the limit. A client that
                        // declares a huge frame is then caught as soon as it has sent MaxMessageSize + 1 bytes.
                        var room = (int)Math.Min(buffer.Length, (long)maxMessageSize + 1) - count;
                        var result = await socket.ReceiveAsync(buffer.AsMemory(count, room), token);
                        if (result.MessageType == WebSocketMessageType.Close)
                        {
                            OnCloseReceived(socket);
                            return;
                        }

                        count += result.Count;
                        if (count > maxMessageSize)
                        {
                            Log.MessageTooBig(_logger, Id, maxMessageSize);
                            RequestClose(WebSocketCloseStatus.MessageTooBig, $"Message exceeds {maxMessageSize} bytes.", DisconnectReason.MessageTooBig, drain: true);
                            return;
                        }

                        complete = result.EndOfMessage;
                    }

                    Volatile.Write(ref _lastReceivedTimestamp, _timeProvider.GetTimestamp());
                    _registry.Metrics.MessageReceived(Namespace, count);

                    // While the handler runs synchronously on this thread, its replies to this connection may be sent
                    // inline (see TrySendInline).
                    ValueTask handling;
                    var previous = s_dispatching;
                    s_dispatching = this;
                    try
                    {
                        handling = dispatcher.HandleAsync(this, new SocketMessage(head.MessageType, buffer.AsMemory(0, count)), token);
                    }
                    finally
                    {
                        s_dispatching = previous;
                    }

                    await handling;
                }
                finally
                {
                    Volatile.Write(ref _receiveBuffer, null);
                    ArrayPool<byte>.Shared.Return(buffer);
                }

                if (!IsOpen)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Aborted.
        }
        catch (WebSocketException ex) when (ex.WebSocketErrorCode == WebSocketError.Faulted)
        {
            // A keep-alive timeout aborts the socket first, so a pending read ends as canceled (above), not here.
            OnProtocolError(ex, readingText);
        }
        catch (Exception ex) when (IsTransportFailure(ex))
        {
            TrySetReason(DisconnectReason.ConnectionLost);
            Log.ConnectionLost(_logger, Id, ex);
        }
        catch (Exception ex)
        {
            TrySetReason(DisconnectReason.ConnectionLost);
            Log.ReadPumpFailed(_logger, Id, ex);
        }
    }

    /// <summary>
    /// The client broke RFC 6455. The WebSocket has already sent its close frame (1007 for invalid UTF-8 in a text
    /// message, 1002 for everything else) and aborted; only the reason and the code are left to record. The WebSocket
    /// does not say which code it sent: invalid UTF-8 is the one failure it reports without a message of its own or an
    /// inner exception, and it can only happen while a text message's payload is read.
    /// </summary>
    private void OnProtocolError(WebSocketException ex, bool readingText)
    {
        var status = readingText && ex.InnerException is null && ex.Message == s_faultedMessage
            ? WebSocketCloseStatus.InvalidPayloadData
            : WebSocketCloseStatus.ProtocolError;
        // A send that failed because of the abort may have recorded ConnectionLost first; the protocol error is the cause.
        if (TrySetReason(DisconnectReason.ProtocolError)
            || Interlocked.CompareExchange(ref _reason, (int)DisconnectReason.ProtocolError, (int)DisconnectReason.ConnectionLost) == (int)DisconnectReason.ConnectionLost)
        {
            _closeStatus = status;
        }

        Log.ProtocolError(_logger, Id, status, ex);
    }

    /// <summary>The message of a <see cref="WebSocketError.Faulted"/> exception that gives none of its own, in this culture.</summary>
    private static readonly string s_faultedMessage = new WebSocketException(WebSocketError.Faulted).Message;

    private void OnCloseReceived(WebSocket socket)
    {
        if (TrySetReason(DisconnectReason.ClientClosed))
        {
            _closeStatus = socket.CloseStatus;
            _closeStatusDescription = socket.CloseStatusDescription;
        }
    }

    private static bool IsTransportFailure(Exception ex)
        => ex is WebSocketException or IOException or ObjectDisposedException
            || ex.InnerException is IOException;
}
