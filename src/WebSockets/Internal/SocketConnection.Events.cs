using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace WebSockets.Internal;

/// <summary>The event protocol's per-connection state: emits, requests both ways, handler ordering and batches.</summary>
internal sealed partial class SocketConnection
{
    /// <summary>How many messages may wait behind a running handler; more are refused with a "busy" error.</summary>
    internal const int MaxQueuedInvocations = 32;

    private long _nextRequestId;
    private ConcurrentDictionary<long, IPendingReply>? _pendingReplies;
    private HashSet<long>? _activeRequestIds;
    private Task? _invocationTail;
    private int _queuedInvocations;
    private Dictionary<string, BatchBuffer>? _batches;

    public ValueTask EmitAsync<T>(string eventName, T data, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        var options = _registry.Options.JsonSerializerOptions;
        if (_namespace.Batches.TryGetValue(eventName, out var batch))
        {
            AddToBatch(eventName, batch, EventMessage.Data(data, options));
            return default;
        }

        return SendAsync(EventMessage.Event(eventName, data, options), cancellationToken);
    }

    public ValueTask EmitAsync(string eventName, CancellationToken cancellationToken = default)
        => EmitAsync<object?>(eventName, null, cancellationToken);

    public ValueTask BroadcastAsync<T>(string eventName, T data, CancellationToken cancellationToken = default)
        => new SocketAudience(_registry, _namespace, filter: null, except: Id).EmitAsync(eventName, data, cancellationToken);

    public async Task<TReply> RequestAsync<TReply>(string eventName, object? data = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        var wait = timeout ?? _registry.Options.RequestTimeout;
        if (wait <= TimeSpan.Zero && wait != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must be positive or Timeout.InfiniteTimeSpan.");
        }

        if (!IsOpen)
        {
            throw new SocketRequestException(ErrorNotice.ConnectionClosed, $"Connection {Id} is closed; request '{eventName}' was not sent.");
        }

        var options = _registry.Options.JsonSerializerOptions;
        var id = Interlocked.Increment(ref _nextRequestId);
        // Resolved before the request is sent, so a reply type the options can't serialize fails here, not on the reply.
        var pending = new PendingReply<TReply>((JsonTypeInfo<TReply>)options.GetTypeInfo(typeof(TReply)));
        var replies = _pendingReplies ?? Interlocked.CompareExchange(ref _pendingReplies, new ConcurrentDictionary<long, IPendingReply>(), null) ?? _pendingReplies;
        replies[id] = pending;
        try
        {
            await SendAsync(EventMessage.Request(eventName, data, id, options), cancellationToken);
            if (!IsOpen && Volatile.Read(ref _state) == StateClosed)
            {
                pending.Fail(ConnectionClosedError(eventName));
            }

            return await pending.Task.WaitAsync(wait, _timeProvider, cancellationToken);
        }
        catch (TimeoutException)
        {
            _registry.Metrics.RequestTimedOut(Namespace);
            throw new TimeoutException($"Connection {Id} did not reply to request '{eventName}' (id {id}) within {wait}.");
        }
        finally
        {
            replies.TryRemove(id, out _);
        }
    }

    /// <summary>Completes the server request that a client's reply answers. False when no request has that ID.</summary>
    internal bool TryCompleteReply(long id, ReadOnlySpan<byte> data, ReadOnlySpan<byte> error)
    {
        if (_pendingReplies is not { } replies || !replies.TryRemove(id, out var pending))
        {
            return false;
        }

        pending.Complete(data, error);
        return true;
    }

    /// <summary>
    /// Marks a client request as pending (running or waiting for its handler) until <see cref="EndRequest"/>. Refused when
    /// one with that ID still is, or when <see cref="MaxPendingRequests"/> already are.
    /// </summary>
    internal RequestAdmission TryBeginRequest(long id)
    {
        var active = _activeRequestIds ?? Interlocked.CompareExchange(ref _activeRequestIds, [], null) ?? _activeRequestIds;
        lock (active)
        {
            if (active.Count >= MaxPendingRequests)
            {
                return active.Contains(id) ? RequestAdmission.DuplicateId : RequestAdmission.TooManyRequests;
            }

            return active.Add(id) ? RequestAdmission.Admitted : RequestAdmission.DuplicateId;
        }
    }

    internal void EndRequest(long id)
    {
        if (_activeRequestIds is { } active)
        {
            lock (active)
            {
                active.Remove(id);
            }
        }
    }

    /// <summary>Whether no handler is running or waiting, so the next one may start at once (read pump only).</summary>
    internal bool InvocationsIdle => _invocationTail is not { IsCompleted: false };

    /// <summary>Records a handler started at once because <see cref="InvocationsIdle"/> was true (read pump only).</summary>
    internal void TrackInvocation(Task running) => _invocationTail = running.IsCompleted ? null : running;

    /// <summary>
    /// Runs event handlers one at a time, in arrival order, without ever blocking the read pump: replies to server
    /// requests keep being read while a handler runs, so a handler may await RequestAsync. Called only by the read
    /// pump. Returns false, and runs nothing, when <see cref="MaxQueuedInvocations"/> messages already wait: blocking
    /// instead could hold back the very reply a running handler awaits.
    /// </summary>
    internal bool TryEnqueueInvocation(Func<Task> invocation)
    {
        if (InvocationsIdle)
        {
            TrackInvocation(invocation());
            return true;
        }

        if (Volatile.Read(ref _queuedInvocations) >= MaxQueuedInvocations)
        {
            return false;
        }

        Interlocked.Increment(ref _queuedInvocations);
        _invocationTail = RunAfterAsync(_invocationTail!, invocation);
        return true;
    }

    private async Task RunAfterAsync(Task previous, Func<Task> invocation)
    {
        try
        {
            await previous;
        }
        catch
        {
            // Invocations catch their own failures; should one slip through, the chain still goes on.
        }
        finally
        {
            Interlocked.Decrement(ref _queuedInvocations);
        }

        await invocation();
    }

    /// <summary>After the pumps end: fail requests that will get no reply, then let running handlers finish.</summary>
    private async Task CompleteEventsAsync()
    {
        // Fail pending requests first: a running handler may be awaiting one of them, and waiting for that handler
        // before failing it would hold the connection (and its disconnect hooks) until the request times out.
        // Requests made from now on fail at once, since the connection is no longer open.
        if (_pendingReplies is { } replies)
        {
            foreach (var (id, pending) in replies)
            {
                if (replies.TryRemove(id, out _))
                {
                    pending.Fail(ConnectionClosedError(null));
                }
            }
        }

        if (_invocationTail is { } tail)
        {
            try
            {
                await tail;
            }
            catch
            {
                // Invocations catch their own failures; this only guards the disconnect hooks that follow.
            }
        }

        if (_batches is { } batches)
        {
            lock (batches)
            {
                foreach (var batch in batches.Values)
                {
                    batch.Dispose();
                }
            }
        }
    }

    private SocketRequestException ConnectionClosedError(string? eventName)
        => new(ErrorNotice.ConnectionClosed, eventName is null
            ? $"Connection {Id} closed before it replied."
            : $"Connection {Id} closed before it replied to request '{eventName}'.");

    // ---- Batches -------------------------------------------------------------------------------------------

    internal void AddToBatch(string eventName, (TimeSpan Interval, int MaxItems) settings, byte[] item)
    {
        if (!IsOpen)
        {
            return;
        }

        BatchBuffer? buffer;
        var batches = _batches ?? Interlocked.CompareExchange(ref _batches, new Dictionary<string, BatchBuffer>(StringComparer.Ordinal), null) ?? _batches;
        lock (batches)
        {
            if (!batches.TryGetValue(eventName, out buffer))
            {
                batches[eventName] = buffer = new BatchBuffer(this, "batch_" + eventName, settings.Interval, settings.MaxItems);
            }
        }

        buffer.Add(item);
    }

    /// <summary>Called by the write pump once the queue is drained: sends what every batch still holds.</summary>
    private async Task FlushBatchesAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        if (_batches is not { } batches)
        {
            return;
        }

        BatchBuffer[] buffers;
        lock (batches)
        {
            buffers = [.. batches.Values];
        }

        foreach (var buffer in buffers)
        {
            if (buffer.TakeFinal() is { } message)
            {
                await socket.SendAsync(message.Data, message.MessageType, WebSocketMessageFlags.EndOfMessage, cancellationToken);
                _registry.Metrics.MessageSent(Namespace, message.Data.Length);
            }
        }
    }

    /// <summary>The items of one batched event waiting to be sent to one connection.</summary>
    private sealed class BatchBuffer : IDisposable
    {
        private readonly SocketConnection _connection;
        private readonly string _batchEventName;
        private readonly TimeSpan _interval;
        private readonly int _maxItems;
        private readonly ITimer _timer;
        private List<byte[]> _items = [];
        private bool _closed;

        public BatchBuffer(SocketConnection connection, string batchEventName, TimeSpan interval, int maxItems)
        {
            _connection = connection;
            _batchEventName = batchEventName;
            _interval = interval;
            _maxItems = maxItems;
            _timer = connection._timeProvider.CreateTimer(static s => ((BatchBuffer)s!).Flush(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        public void Add(byte[] item)
        {
            List<byte[]>? full = null;
            lock (this)
            {
                if (_closed)
                {
                    return;
                }

                _items.Add(item);
                if (_items.Count >= _maxItems)
                {
                    _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                    full = QueueLocked();
                }
                else if (_items.Count == 1)
                {
                    _timer.Change(_interval, Timeout.InfiniteTimeSpan);
                }
            }

            if (full is not null)
            {
                Send(full);
            }
        }

        public void Flush()
        {
            List<byte[]>? full;
            lock (this)
            {
                if (_closed || _items.Count == 0)
                {
                    return;
                }

                full = QueueLocked();
            }

            if (full is not null)
            {
                Send(full);
            }
        }

        /// <summary>
        /// Under the lock: queues the batch directly when there is room. When the queue was completed by a close, the
        /// items stay here for <see cref="TakeFinal"/>, which the write pump calls after draining the queue, so a close
        /// racing a flush loses nothing. Returns the items only when the queue is full, for the full-queue policy.
        /// </summary>
        private List<byte[]>? QueueLocked()
        {
            if (_connection.TryQueueDirect(EventMessage.Batch(_batchEventName, _items)))
            {
                _items = [];
                return null;
            }

            if (!_connection.IsOpen)
            {
                return null;
            }

            var full = _items;
            _items = [];
            return full;
        }

        /// <summary>Closes the buffer and returns its last batch, if any. Nothing is accepted afterwards.</summary>
        public SocketMessage? TakeFinal()
        {
            lock (this)
            {
                _closed = true;
                _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                if (_items.Count == 0)
                {
                    return null;
                }

                var message = EventMessage.Batch(_batchEventName, _items);
                _items = [];
                return message;
            }
        }

        public void Dispose()
        {
            lock (this)
            {
                _closed = true;
            }

            _timer.Dispose();
        }

        private void Send(List<byte[]> items)
        {
            var sending = _connection.SendAsync(EventMessage.Batch(_batchEventName, items));
            if (sending.IsCompleted)
            {
                sending.GetAwaiter().GetResult();
            }
            else
            {
                _ = sending.AsTask();
            }
        }
    }

    // ---- Pending server requests ---------------------------------------------------------------------------

    private interface IPendingReply
    {
        void Complete(ReadOnlySpan<byte> data, ReadOnlySpan<byte> error);

        void Fail(Exception exception);
    }

    private sealed class PendingReply<T>(JsonTypeInfo<T> typeInfo) : TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously), IPendingReply
    {
        public void Complete(ReadOnlySpan<byte> data, ReadOnlySpan<byte> error)
        {
            if (!error.IsEmpty)
            {
                TrySetException(ReadError(error));
                return;
            }

            try
            {
                TrySetResult(data.IsEmpty ? default! : JsonSerializer.Deserialize(data, typeInfo)!);
            }
            catch (JsonException ex)
            {
                TrySetException(new SocketRequestException(ErrorNotice.BadData, $"The reply does not match the expected {typeof(T).Name}: {ex.Message}"));
            }
        }

        public void Fail(Exception exception) => TrySetException(exception);

        private static SocketRequestException ReadError(ReadOnlySpan<byte> error)
        {
            try
            {
                using var document = JsonDocument.Parse(error.ToArray());
                var root = document.RootElement;
                var code = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "error";
                var message = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "The client replied with an error.";
                return new SocketRequestException(code, message);
            }
            catch (JsonException)
            {
                return new SocketRequestException("error", "The client replied with an error.");
            }
        }
    }
}

/// <summary>The outcome of <see cref="SocketConnection.TryBeginRequest"/>.</summary>
internal enum RequestAdmission
{
    Admitted,
    DuplicateId,
    TooManyRequests,
}
