using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using WebSockets.Client.Internal;

namespace WebSockets.Client;

/// <summary>
/// A WebSocket client that keeps one connection to a server alive: it reconnects with exponential back-off and
/// jitter on a fresh <see cref="ClientWebSocket"/>, re-sending headers, sub-protocols and a fresh access token, and
/// queues what is sent while it is not connected in a bounded outbox that is flushed, in order, after a reconnect.
/// It speaks the WebSockets event protocol (events, requests, replies) or, in <see cref="SocketClientProtocol.Raw"/>
/// mode, plain text and binary messages.
/// </summary>
/// <remarks>
/// Every member is safe to call from any thread. Handlers run one at a time, in the order messages arrive; replies
/// to the client's own requests are processed even while a handler runs, so a handler may await
/// <see cref="RequestAsync{TReply}"/>.
/// </remarks>
public sealed partial class SocketClient : IAsyncDisposable
{
    private readonly SocketClientOptions _options;
    private readonly KeyValuePair<string, string>[] _headers;
    private readonly string[] _subProtocols;
    private readonly JsonSerializerOptions _json;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ClientMetrics _metrics;
    private readonly Outbox _outbox;
    private readonly ConcurrentDictionary<string, EventHandlerEntry> _handlers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, PendingRequest> _pending = new();
    private readonly Channel<InboundMessage> _inbound;
    private readonly CancellationTokenSource _disposeCts = new();
    private readonly Lock _lock = new();
    private static readonly AsyncLocal<bool> s_inDispatch = new();
    private Func<SocketClientMessage, CancellationToken, ValueTask>? _messageHandler;
    private long _nextRequestId;
    private int _generation;
    private int _state;
    private bool _started;
    private bool _gaveUp;
    private volatile bool _stopRequested;
    private Task? _runTask;
    private CancellationTokenSource? _runCts;
    private TaskCompletionSource? _connected;
    private Task? _dispatchTask;
    private Task? _stopTask;
    private int _disposed;
    private bool _inboundFull;

    /// <summary>Creates a client. It does not connect until <see cref="StartAsync"/> or <see cref="StartOrFailAsync"/>.</summary>
    /// <param name="uri">The server's WebSocket URI (<c>ws://</c> or <c>wss://</c>).</param>
    /// <param name="options">The options; <see langword="null"/> uses the defaults. They are read now.</param>
    /// <exception cref="ArgumentException">The URI or some options are invalid; the message lists every problem.</exception>
    public SocketClient(Uri uri, SocketClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(uri);
        options ??= new SocketClientOptions();
        var errors = SocketClientOptionsValidator.Validate(uri, options);
        if (errors.Count > 0)
        {
            throw new ArgumentException("The WebSocket client options are invalid: " + string.Join(" ", errors), nameof(options));
        }

        Uri = uri;
        _options = options.Clone();
        Name = options.Name ?? uri.Authority;
        _headers = [.. options.Headers];
        _subProtocols = [.. options.SubProtocols];
        _json = JsonDefaults.WithResolver(options.JsonSerializerOptions);
        _time = options.TimeProvider;
        _logger = options.LoggerFactory?.CreateLogger<SocketClient>() ?? NullLogger<SocketClient>.Instance;
        _metrics = new ClientMetrics(options.MeterFactory, Name);
        _outbox = new Outbox(options.OutboxCapacity);
        // Only written with TryWrite by the receive loop, which never waits: a full queue drops (see Received).
        _inbound = Channel.CreateBounded<InboundMessage>(new BoundedChannelOptions(options.InboundCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>Raised on every change of <see cref="State"/>, in order, from the client's connection loop.</summary>
    /// <remarks>Handlers should return quickly; one that throws is logged and ignored.</remarks>
    public event EventHandler<SocketClientStateChangedEventArgs>? StateChanged;

    /// <summary>Gets the server's URI.</summary>
    public Uri Uri { get; }

    /// <summary>Gets the client's name, used in logs and metrics: <see cref="SocketClientOptions.Name"/>, or the URI's host and port.</summary>
    public string Name { get; }

    /// <summary>Gets the current connection state.</summary>
    public SocketClientState State => (SocketClientState)Volatile.Read(ref _state);

    internal bool ReconnectEnabled => _options.Reconnect;

    /// <summary>Gets the number of messages in the outbox: not yet written, or waiting for a connection.</summary>
    public int OutboxCount => _outbox.Count;

    /// <summary>
    /// Starts the client and completes once it is connected. Failed attempts are retried with back-off (raising
    /// <see cref="SocketClientState.Reconnecting"/>) until one succeeds or <paramref name="cancellationToken"/> is
    /// canceled, which stops the attempts and throws <see cref="OperationCanceledException"/>. Once connected, a
    /// dropped connection is re-established in the background when <see cref="SocketClientOptions.Reconnect"/> is set.
    /// Completes at once if the client has already connected.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting, and the attempts, before the first connection.</param>
    public Task StartAsync(CancellationToken cancellationToken = default) => StartCoreAsync(failFast: false, cancellationToken);

    /// <summary>
    /// Starts the client with a single connection attempt and throws its error (for example a
    /// <see cref="WebSocketException"/>, or a <see cref="TimeoutException"/> after <see cref="SocketClientOptions.ConnectTimeout"/>)
    /// if it fails; the client is then <see cref="SocketClientState.Disconnected"/> and may be started again. Once
    /// connected, it behaves as after <see cref="StartAsync"/>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    public Task StartOrFailAsync(CancellationToken cancellationToken = default) => StartCoreAsync(failFast: true, cancellationToken);

    /// <summary>
    /// Stops the client: new sends fail with <see cref="SocketClientSendFailure.Stopped"/>; if connected, the outbox is
    /// flushed and the connection closed with 1000 within <see cref="SocketClientOptions.CloseTimeout"/>. Messages still
    /// in the outbox are then dropped, logged and counted (reason <c>stopped</c>), and pending requests fail with
    /// <see cref="SocketClientRequestException.ConnectionClosedCode"/>. A stopped client can't be started again.
    /// </summary>
    /// <param name="cancellationToken">Gives up flushing and closing gracefully: the connection is aborted.</param>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            _stopTask ??= StopCoreAsync(cancellationToken);
            return _stopTask;
        }
    }

    /// <summary>Stops the client (see <see cref="StopAsync"/>) and waits for its running handler, if any, to end. Calling it again does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopAsync().ConfigureAwait(false);
        _inbound.Writer.TryComplete();
        await _disposeCts.CancelAsync().ConfigureAwait(false);
        // A handler that disposes its own client must not wait for the handler loop it runs on.
        if (_dispatchTask is { } dispatch && !s_inDispatch.Value)
        {
            await dispatch.ConfigureAwait(false);
        }

        while (_inbound.Reader.TryRead(out var left))
        {
            left.Dispose();
        }

        _runCts?.Dispose();
        _disposeCts.Dispose();
    }

    /// <summary>
    /// Handles an event the server sends. If the server sends it as a request, the reply carries <c>null</c> data once
    /// the handler completes. The items of a <c>batch_</c><paramref name="eventName"/> event are delivered to this
    /// handler one by one, in order, unless a handler is registered for the batch event itself.
    /// </summary>
    /// <typeparam name="T">The type the event's <c>data</c> is deserialized to.</typeparam>
    /// <param name="eventName">The event name (case-sensitive). <c>error</c> receives the server's error notices.</param>
    /// <param name="handler">The handler; it gets a token canceled when the client is disposed.</param>
    /// <returns>Disposing it removes the handler.</returns>
    /// <exception cref="InvalidOperationException">A handler is already registered for the event, or the client is in raw mode.</exception>
    public IDisposable On<T>(string eventName, Func<T, CancellationToken, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var json = _json;
        return AddHandler(eventName, new EventHandlerEntry(
            async (data, ct) =>
            {
                await handler(EventHandlerEntry.Bind<T>(data, json)!, ct).ConfigureAwait(false);
                return null;
            },
            replyType: null));
    }

    /// <summary>Handles an event the server sends, with a synchronous handler. See <see cref="On{T}(string, Func{T, CancellationToken, ValueTask})"/>.</summary>
    /// <typeparam name="T">The type the event's <c>data</c> is deserialized to.</typeparam>
    /// <param name="eventName">The event name (case-sensitive).</param>
    /// <param name="handler">The handler.</param>
    /// <returns>Disposing it removes the handler.</returns>
    public IDisposable On<T>(string eventName, Action<T> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return On<T>(eventName, (data, _) =>
        {
            handler(data);
            return ValueTask.CompletedTask;
        });
    }

    /// <summary>
    /// Answers a request the server sends (<c>socket.RequestAsync</c> on the server): the handler's return value is the
    /// reply's <c>data</c>. A handler that throws <see cref="SocketClientRequestException"/> sends an error reply with its
    /// code and message; any other exception sends <c>handler_failed</c>, and <c>data</c> that does not bind sends
    /// <c>bad_data</c>. Sent as an event (without an ID), the handler runs and its result is discarded.
    /// </summary>
    /// <typeparam name="T">The type the request's <c>data</c> is deserialized to.</typeparam>
    /// <typeparam name="TReply">The type of the reply, serialized as JSON.</typeparam>
    /// <param name="eventName">The event name (case-sensitive).</param>
    /// <param name="handler">The handler; it gets a token canceled when the client is disposed.</param>
    /// <returns>Disposing it removes the handler.</returns>
    /// <exception cref="InvalidOperationException">A handler is already registered for the event, or the client is in raw mode.</exception>
    public IDisposable On<T, TReply>(string eventName, Func<T, CancellationToken, ValueTask<TReply>> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var json = _json;
        return AddHandler(eventName, new EventHandlerEntry(
            async (data, ct) => await handler(EventHandlerEntry.Bind<T>(data, json)!, ct).ConfigureAwait(false),
            typeof(TReply)));
    }

    /// <summary>Answers a request the server sends, with a synchronous handler. See <see cref="On{T, TReply}(string, Func{T, CancellationToken, ValueTask{TReply}})"/>.</summary>
    /// <typeparam name="T">The type the request's <c>data</c> is deserialized to.</typeparam>
    /// <typeparam name="TReply">The type of the reply, serialized as JSON.</typeparam>
    /// <param name="eventName">The event name (case-sensitive).</param>
    /// <param name="handler">The handler.</param>
    /// <returns>Disposing it removes the handler.</returns>
    public IDisposable On<T, TReply>(string eventName, Func<T, TReply> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return On<T, TReply>(eventName, (data, _) => ValueTask.FromResult(handler(data)));
    }

    /// <summary>
    /// Handles the messages that are not events: every message in <see cref="SocketClientProtocol.Raw"/> mode, and
    /// binary messages in <see cref="SocketClientProtocol.Events"/> mode. Messages arriving without a handler are dropped
    /// (logged at Debug level).
    /// </summary>
    /// <param name="handler">The handler; it gets its own copy of the payload.</param>
    /// <returns>Disposing it removes the handler.</returns>
    /// <exception cref="InvalidOperationException">A message handler is already registered.</exception>
    public IDisposable OnMessage(Func<SocketClientMessage, CancellationToken, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (Interlocked.CompareExchange(ref _messageHandler, handler, null) is not null)
        {
            throw new InvalidOperationException("A message handler is already registered; dispose its registration first.");
        }

        return new Registration(() => Interlocked.CompareExchange(ref _messageHandler, null, handler));
    }

    /// <summary>Sends an event with data: <c>{"event":…,"data":…}</c>. Completes once the message is in the outbox.</summary>
    /// <typeparam name="T">The type of the data, serialized as JSON.</typeparam>
    /// <param name="eventName">The event name.</param>
    /// <param name="data">The data.</param>
    /// <param name="options">Per-message options (expiry, fail when not connected); <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token checked before queuing.</param>
    /// <exception cref="SocketClientSendException">The message can neither be sent nor buffered.</exception>
    /// <exception cref="InvalidOperationException">The client is in raw mode.</exception>
    public ValueTask EmitAsync<T>(string eventName, T data, SocketClientSendOptions? options = null, CancellationToken cancellationToken = default)
    {
        EnsureEvents(eventName);
        cancellationToken.ThrowIfCancellationRequested();
        return Send(WebSocketMessageType.Text, ProtocolWriter.Event(eventName, data, typeof(T), null, _json), options);
    }

    /// <summary>Sends an event without data: <c>{"event":…,"data":null}</c>. Completes once the message is in the outbox.</summary>
    /// <param name="eventName">The event name.</param>
    /// <param name="options">Per-message options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token checked before queuing.</param>
    /// <exception cref="SocketClientSendException">The message can neither be sent nor buffered.</exception>
    public ValueTask EmitAsync(string eventName, SocketClientSendOptions? options = null, CancellationToken cancellationToken = default)
        => EmitAsync<object?>(eventName, null, options, cancellationToken);

    /// <summary>
    /// Sends a request and awaits its reply's data. The request goes through the outbox like any message, so it is
    /// buffered while the client is not connected (unless <paramref name="options"/> says otherwise); the timeout
    /// counts from this call. Once written, a request whose connection drops before its reply arrives fails with
    /// <see cref="SocketClientRequestException.ConnectionClosedCode"/>: it is not re-sent, as the server may have handled it.
    /// A request still in the outbox when the client gives up (the connection ends with <see cref="SocketClientOptions.Reconnect"/>
    /// off, <see cref="StartOrFailAsync"/> fails, or <see cref="StartAsync"/> is canceled) fails at once with
    /// <see cref="SocketClientSendException"/> (<see cref="SocketClientSendFailure.NotConnected"/>): it was never sent. One
    /// still in the outbox at <see cref="StopAsync"/> fails with <see cref="SocketClientRequestException.ConnectionClosedCode"/>.
    /// </summary>
    /// <typeparam name="TReply">The type the reply's <c>data</c> is deserialized to.</typeparam>
    /// <param name="eventName">The event name.</param>
    /// <param name="data">The data, serialized as JSON with its runtime type; <see langword="null"/> sends <c>null</c>.</param>
    /// <param name="timeout">How long to wait for the reply; <see langword="null"/> uses <see cref="SocketClientOptions.RequestTimeout"/>.</param>
    /// <param name="options">Per-message options; only <see cref="SocketClientSendOptions.BufferWhenDisconnected"/> applies.</param>
    /// <param name="cancellationToken">Stops waiting; the request is withdrawn if not yet written.</param>
    /// <exception cref="SocketClientRequestException">The server answered with an error reply, the reply did not bind, or the connection closed first.</exception>
    /// <exception cref="TimeoutException">No reply came within the timeout.</exception>
    /// <exception cref="SocketClientSendException">The request can neither be sent nor buffered, or the client gave up before it was sent.</exception>
    public async Task<TReply> RequestAsync<TReply>(string eventName, object? data = null, TimeSpan? timeout = null, SocketClientSendOptions? options = null, CancellationToken cancellationToken = default)
    {
        EnsureEvents(eventName);
        cancellationToken.ThrowIfCancellationRequested();
        var wait = timeout ?? _options.RequestTimeout;
        if (wait <= TimeSpan.Zero && wait != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must be positive or Timeout.InfiniteTimeSpan.");
        }

        var id = Interlocked.Increment(ref _nextRequestId);
        var request = new PendingRequest(id, eventName);
        var payload = ProtocolWriter.Event(eventName, data, data?.GetType() ?? typeof(object), id, _json);
        _pending[id] = request;
        try
        {
            Enqueue(new OutgoingMessage(WebSocketMessageType.Text, payload, expiresAt: null, generation: 0, request), options, force: false);
            using var timeoutCts = new CancellationTokenSource(wait, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutCts.Token);
            JsonElement reply;
            try
            {
                reply = await request.Task.WaitAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timeoutCts.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"No reply to request '{eventName}' (id {id}) from {Name} within {wait}.");
            }

            try
            {
                return EventHandlerEntry.Bind<TReply>(reply, _json)!;
            }
            catch (JsonException ex)
            {
                throw new SocketClientRequestException("bad_reply", $"The reply to request '{eventName}' does not bind to {typeof(TReply).Name}: {ex.Message}");
            }
        }
        finally
        {
            _pending.TryRemove(id, out _);
            request.Abandon();
        }
    }

    /// <summary>
    /// Presents a fresh token from <see cref="SocketClientOptions.AccessTokenProvider"/> to the server over the open
    /// connection, with the built-in <c>$auth</c> request, so that a server that closes connections when their
    /// authentication expires keeps this one open. The token must be for the same user. Call it before the current
    /// token expires; reconnecting asks the provider again anyway. Not buffered: it fails when not connected.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting for the token or the reply.</param>
    /// <exception cref="InvalidOperationException">No <see cref="SocketClientOptions.AccessTokenProvider"/> is set, or it returned no token.</exception>
    /// <exception cref="SocketClientRequestException">The server refused the token (<c>unauthorized</c>, <c>forbidden</c>), or the connection closed first.</exception>
    /// <exception cref="SocketClientSendException">The client is not connected.</exception>
    /// <exception cref="TimeoutException">No reply came within <see cref="SocketClientOptions.RequestTimeout"/>.</exception>
    public async Task RefreshTokenAsync(CancellationToken cancellationToken = default)
    {
        if (_options.AccessTokenProvider is not { } provider)
        {
            throw new InvalidOperationException($"The WebSocket client '{Name}' has no AccessTokenProvider to refresh its token from.");
        }

        var token = await provider(cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrEmpty(token))
        {
            throw new InvalidOperationException($"The AccessTokenProvider of the WebSocket client '{Name}' returned no token.");
        }

        await RequestAsync<JsonElement>("$auth", new Dictionary<string, string> { ["token"] = token }, options: SocketClientSendOptions.FailIfNotConnected, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends a text message as it is. Completes once the message is in the outbox.</summary>
    /// <param name="text">The text.</param>
    /// <param name="options">Per-message options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token checked before queuing.</param>
    /// <exception cref="SocketClientSendException">The message can neither be sent nor buffered.</exception>
    public ValueTask SendAsync(string text, SocketClientSendOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        cancellationToken.ThrowIfCancellationRequested();
        return Send(WebSocketMessageType.Text, Encoding.UTF8.GetBytes(text), options);
    }

    /// <summary>Sends a binary message. The array is not copied: don't change it afterwards. Completes once the message is in the outbox.</summary>
    /// <param name="data">The payload.</param>
    /// <param name="options">Per-message options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token checked before queuing.</param>
    /// <exception cref="SocketClientSendException">The message can neither be sent nor buffered.</exception>
    public ValueTask SendAsync(byte[] data, SocketClientSendOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        cancellationToken.ThrowIfCancellationRequested();
        return Send(WebSocketMessageType.Binary, data, options);
    }

    /// <summary>Sends <paramref name="value"/> serialized as JSON in a text message. Completes once the message is in the outbox.</summary>
    /// <typeparam name="T">The type to serialize.</typeparam>
    /// <param name="value">The value.</param>
    /// <param name="options">Per-message options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token checked before queuing.</param>
    /// <exception cref="SocketClientSendException">The message can neither be sent nor buffered.</exception>
    public ValueTask SendJsonAsync<T>(T value, SocketClientSendOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Send(WebSocketMessageType.Text, JsonSerializer.SerializeToUtf8Bytes(value, (JsonTypeInfo<T>)_json.GetTypeInfo(typeof(T))), options);
    }

    private ValueTask Send(WebSocketMessageType type, byte[] payload, SocketClientSendOptions? options)
    {
        var ttl = options?.TimeToLive ?? _options.MessageTimeToLive;
        DateTimeOffset? expiresAt = ttl == Timeout.InfiniteTimeSpan ? null : _time.GetUtcNow() + ttl;
        try
        {
            Enqueue(new OutgoingMessage(type, payload, expiresAt, generation: 0, request: null), options, force: false);
            return ValueTask.CompletedTask;
        }
        catch (SocketClientSendException ex)
        {
            return ValueTask.FromException(ex);
        }
    }

    private void Enqueue(OutgoingMessage message, SocketClientSendOptions? options, bool force)
    {
        if (_stopRequested)
        {
            throw new SocketClientSendException(SocketClientSendFailure.Stopped, $"The WebSocket client '{Name}' was stopped; the message was not sent.");
        }

        var state = State;
        if (state != SocketClientState.Connected && !force)
        {
            if (options is { BufferWhenDisconnected: false })
            {
                throw new SocketClientSendException(SocketClientSendFailure.NotConnected, $"The WebSocket client '{Name}' is not connected ({state}) and the message may not wait in the outbox.");
            }

            if (Volatile.Read(ref _gaveUp))
            {
                throw new SocketClientSendException(SocketClientSendFailure.NotConnected, $"The WebSocket client '{Name}' is disconnected and will not reconnect (Reconnect is off, or StartOrFailAsync failed); start it again first.");
            }
        }

        List<OutgoingMessage>? expired = null;
        bool queued;
        try
        {
            queued = _outbox.TryEnqueue(message, _time.GetUtcNow(), Volatile.Read(ref _generation), force, ref expired);
        }
        catch (OutboxClosedException)
        {
            // The stop check above passed, but the stop cleared the outbox before this message got in.
            throw new SocketClientSendException(SocketClientSendFailure.Stopped, $"The WebSocket client '{Name}' was stopped; the message was not sent.");
        }

        ReportExpired(expired);
        if (queued && message.Request is { } request && Volatile.Read(ref _gaveUp) && _outbox.TryRemove(message))
        {
            // The client gave up after the check above and before the message got in: it would wait for its timeout.
            throw NotSentException(request);
        }

        if (!queued)
        {
            Log.OutboxFull(_logger, Name, _outbox.Capacity, state);
            throw new SocketClientSendException(SocketClientSendFailure.OutboxFull, $"The outbox of WebSocket client '{Name}' is full ({_outbox.Capacity} messages, state {state}); the message was not queued.");
        }
    }

    private void ReportExpired(List<OutgoingMessage>? expired)
    {
        if (expired is { Count: > 0 })
        {
            _metrics.MessagesDropped(expired.Count, "expired");
            Log.MessagesExpired(_logger, Name, expired.Count);
        }
    }

    private IDisposable AddHandler(string eventName, EventHandlerEntry entry)
    {
        EnsureEvents(eventName);
        if (!_handlers.TryAdd(eventName, entry))
        {
            throw new InvalidOperationException($"A handler for event '{eventName}' is already registered; dispose its registration first.");
        }

        return new Registration(() => _handlers.TryRemove(new KeyValuePair<string, EventHandlerEntry>(eventName, entry)));
    }

    private void EnsureEvents(string eventName)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        if (_options.Protocol == SocketClientProtocol.Raw)
        {
            throw new InvalidOperationException($"The WebSocket client '{Name}' is in raw mode: events, requests and event handlers need SocketClientProtocol.Events.");
        }
    }
}
