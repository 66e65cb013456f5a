using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using WebSockets.Client.Internal;

namespace WebSockets.Client;

public sealed partial class SocketClient
{
    private enum WriteEnd
    {
        Canceled,
        Closed,
        Failed,
    }

    private readonly record struct ConnectionEnd(SocketClientDisconnectReason Reason, WebSocketCloseStatus? CloseStatus, Exception? Exception);

    /// <summary>Starts the connection loop in the background without waiting for a connection (hosted services).</summary>
    internal void StartInBackground() => _ = EnsureRunning(failFast: false);

    private async Task StartCoreAsync(bool failFast, CancellationToken cancellationToken)
    {
        var connected = EnsureRunning(failFast);
        if (connected.IsCompleted)
        {
            await connected.ConfigureAwait(false);
            return;
        }

        try
        {
            await connected.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Canceling the start stops the attempts, unless a connection was made meanwhile.
            CancellationTokenSource? run;
            lock (_lock)
            {
                run = connected.IsCompletedSuccessfully ? null : _runCts;
            }

            if (run is not null)
            {
                await run.CancelAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    private Task EnsureRunning(bool failFast)
    {
        lock (_lock)
        {
            if (_stopRequested)
            {
                throw new ObjectDisposedException(nameof(SocketClient), $"The WebSocket client '{Name}' was stopped; create a new one.");
            }

            // A run that gave up detaches its _connected (under this lock) before it says so, so a start made right
            // after a failure, even before that run has quite ended, makes a new attempt instead of getting the old result.
            if (_runTask is { IsCompleted: false } && _connected is not null)
            {
                return _connected.Task;
            }

            _started = true;
            Volatile.Write(ref _gaveUp, false);
            var previousRun = _runTask;
            var previousCts = _runCts;
            _runCts = CancellationTokenSource.CreateLinkedTokenSource(_disposeCts.Token);
            _connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _dispatchTask ??= Task.Run(DispatchLoopAsync);
            var connected = _connected;
            var token = _runCts.Token;
            _runTask = Task.Run(async () =>
            {
                // The previous run is only finishing (it never throws); the new one starts once it has ended.
                if (previousRun is not null)
                {
                    await previousRun.ConfigureAwait(false);
                }

                previousCts?.Dispose();
                await RunAsync(failFast, connected, token).ConfigureAwait(false);
            });
            return connected.Task;
        }
    }

    private async Task RunAsync(bool failFast, TaskCompletionSource firstConnection, CancellationToken cancellationToken)
    {
        var attempt = 0;
        var everConnected = false;
        try
        {
            while (true)
            {
                SetState(new SocketClientStateChangedEventArgs(SocketClientState.Connecting, attempt));
                Log.Connecting(_logger, Name, Uri, attempt);
                ClientWebSocket? socket = null;
                Exception? error = null;
                try
                {
                    socket = await ConnectAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                catch (Exception ex)
                {
                    error = ex;
                }

                _metrics.ConnectionAttempt(socket is not null);
                if (socket is null)
                {
                    if (failFast && !everConnected)
                    {
                        Log.ConnectFailed(_logger, Name, Uri, attempt, error!);
                        GiveUp(firstConnection);
                        SetState(new SocketClientStateChangedEventArgs(SocketClientState.Disconnected, reason: SocketClientDisconnectReason.ConnectFailed, exception: error));
                        firstConnection.TrySetException(error!);
                        return;
                    }

                    attempt++;
                    await BackOffAsync(attempt, error, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                everConnected = true;
                attempt = 0;
                var generation = Interlocked.Increment(ref _generation);
                Log.Connected(_logger, Name, Uri, socket.SubProtocol);
                SetState(new SocketClientStateChangedEventArgs(SocketClientState.Connected));
                firstConnection.TrySetResult();

                var end = await RunConnectionAsync(socket, generation, cancellationToken).ConfigureAwait(false);
                socket.Dispose();
                FailPendingRequests(generation);
                if (_stopRequested || cancellationToken.IsCancellationRequested)
                {
                    return;
                }

                Log.Disconnected(_logger, Name, end.Reason, end.CloseStatus, end.Exception);
                if (!_options.Reconnect)
                {
                    GiveUp(firstConnection);
                    SetState(new SocketClientStateChangedEventArgs(SocketClientState.Disconnected, reason: end.Reason, closeStatus: end.CloseStatus, exception: end.Exception));
                    return;
                }

                SetState(new SocketClientStateChangedEventArgs(SocketClientState.Disconnected, reason: end.Reason, closeStatus: end.CloseStatus, exception: end.Exception));

                attempt = 1;
                await BackOffAsync(attempt, end.Exception, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            if (!_stopRequested)
            {
                // A canceled start: no attempt follows until the client is started again.
                GiveUp(firstConnection);
                SetState(new SocketClientStateChangedEventArgs(SocketClientState.Disconnected, reason: SocketClientDisconnectReason.Stopped));
            }

            firstConnection.TrySetCanceled(cancellationToken);
        }
        catch (Exception ex)
        {
            // Not expected: every failure above is handled. Don't leave a start waiting forever.
            Log.LoopFailed(_logger, Name, ex);
            GiveUp(firstConnection);
            SetState(new SocketClientStateChangedEventArgs(SocketClientState.Disconnected, reason: SocketClientDisconnectReason.ConnectionLost, exception: ex));
            firstConnection.TrySetException(ex);
        }
    }

    /// <summary>
    /// Called by a run that ends without a stop, before it announces it: a later start makes a new attempt, sends fail
    /// with <see cref="SocketClientSendFailure.NotConnected"/>, and requests still in the outbox fail now instead of
    /// waiting for their timeout. Does nothing if a newer run has started meanwhile.
    /// </summary>
    private void GiveUp(TaskCompletionSource firstConnection)
    {
        lock (_lock)
        {
            if (!ReferenceEquals(_connected, firstConnection))
            {
                return;
            }

            _connected = null;
            Volatile.Write(ref _gaveUp, true);
        }

        FailQueuedRequests();
    }

    /// <summary>Fails the requests in the outbox (never written) with <see cref="SocketClientSendFailure.NotConnected"/>.</summary>
    private void FailQueuedRequests()
    {
        var failed = 0;
        foreach (var message in _outbox.TakeRequests(Volatile.Read(ref _generation)))
        {
            if (message.Request!.TrySetException(NotSentException(message.Request)))
            {
                failed++;
            }
        }

        if (failed > 0)
        {
            Log.RequestsNotSent(_logger, Name, failed);
        }
    }

    private SocketClientSendException NotSentException(PendingRequest request)
        => new(SocketClientSendFailure.NotConnected, $"The WebSocket client '{Name}' is disconnected and will not reconnect (Reconnect is off, StartOrFailAsync failed, or StartAsync was canceled); request '{request.EventName}' (id {request.Id}) was not sent.");

    private async Task BackOffAsync(int attempt, Exception? error, CancellationToken cancellationToken)
    {
        var delay = ComputeDelay(attempt);

        // The timer exists before anyone hears of the delay, so that a test clock advanced on the event fires it.
        var wait = Task.Delay(delay, _time, cancellationToken);
        if (error is not null && attempt > 0)
        {
            Log.AttemptFailed(_logger, Name, Uri, attempt, delay, error);
        }

        SetState(new SocketClientStateChangedEventArgs(SocketClientState.Reconnecting, attempt, delay, exception: error));
        await wait.ConfigureAwait(false);
    }

    internal TimeSpan ComputeDelay(int attempt)
    {
        var baseTicks = (double)_options.RetryInterval.Ticks;
        var nominal = Math.Min(baseTicks * Math.Pow(2, Math.Min(attempt - 1, 62)), _options.MaxRetryDelay.Ticks);
        var jittered = nominal * (1 - (_options.RetryJitter * Random.Shared.NextDouble()));
        return TimeSpan.FromTicks(Math.Max(1, (long)jittered));
    }

    private async Task<ClientWebSocket> ConnectAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var socket = new ClientWebSocket();
        try
        {
            foreach (var (name, value) in _headers)
            {
                socket.Options.SetRequestHeader(name, value);
            }

            foreach (var subProtocol in _subProtocols)
            {
                socket.Options.AddSubProtocol(subProtocol);
            }

            socket.Options.KeepAliveInterval = _options.KeepAliveInterval;
            if (_options.KeepAliveInterval > TimeSpan.Zero)
            {
                socket.Options.KeepAliveTimeout = _options.KeepAliveTimeout;
            }

            var uri = Uri;
            if (_options.AccessTokenProvider is { } tokenProvider)
            {
                // Bounded by the attempt's timeout even when the provider ignores its token.
                var token = await tokenProvider(linked.Token).AsTask().WaitAsync(linked.Token).ConfigureAwait(false);
                if (!string.IsNullOrEmpty(token))
                {
                    if (_options.AccessTokenPlacement == AccessTokenPlacement.QueryString)
                    {
                        uri = WithQueryParameter(uri, _options.AccessTokenQueryName, token);
                    }
                    else
                    {
                        socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
                    }
                }
            }

            _options.ConfigureWebSocket?.Invoke(socket.Options);
            await socket.ConnectAsync(uri, linked.Token).ConfigureAwait(false);
            return socket;
        }
        catch (OperationCanceledException ex) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"Connecting to {Uri} did not complete within {_options.ConnectTimeout}.", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static Uri WithQueryParameter(Uri uri, string name, string value)
    {
        var builder = new UriBuilder(uri);
        var pair = Uri.EscapeDataString(name) + "=" + Uri.EscapeDataString(value);
        var query = builder.Query.TrimStart('?');
        builder.Query = query.Length == 0 ? pair : query + "&" + pair;
        return builder.Uri;
    }

    private async Task<ConnectionEnd> RunConnectionAsync(ClientWebSocket socket, int generation, CancellationToken cancellationToken)
    {
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var receiving = ReceiveLoopAsync(socket, generation, connection.Token);
        var writing = WriteLoopAsync(socket, generation, connection.Token);
        var first = await Task.WhenAny(receiving, writing).ConfigureAwait(false);
        if (first == writing && writing.Result.End == WriteEnd.Closed)
        {
            // The client is stopping: its close frame is out, wait (bounded) for the server's.
            using var closeTimeout = new CancellationTokenSource(_options.CloseTimeout, _time);
            try
            {
                await receiving.WaitAsync(closeTimeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Log.CloseTimedOut(_logger, Name, _options.CloseTimeout);
            }
        }

        await connection.CancelAsync().ConfigureAwait(false);
        var received = await receiving.ConfigureAwait(false);
        var (writeEnd, writeError) = await writing.ConfigureAwait(false);
        if (_stopRequested)
        {
            return new ConnectionEnd(SocketClientDisconnectReason.Stopped, received.CloseStatus, null);
        }

        return first == writing && writeEnd == WriteEnd.Failed
            ? new ConnectionEnd(SocketClientDisconnectReason.ConnectionLost, null, writeError)
            : received;
    }

    private async Task<(WriteEnd End, Exception? Error)> WriteLoopAsync(ClientWebSocket socket, int generation, CancellationToken cancellationToken)
    {
        List<OutgoingMessage>? expired = null;
        try
        {
            while (true)
            {
                var message = _outbox.Peek(_time.GetUtcNow(), generation, ref expired);
                if (expired is { Count: > 0 })
                {
                    ReportExpired(expired);
                    expired = null;
                }

                if (message is null)
                {
                    if (_stopRequested)
                    {
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken).ConfigureAwait(false);
                        return (WriteEnd.Closed, null);
                    }

                    await _outbox.WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                await socket.SendAsync(message.Data, message.Type, endOfMessage: true, cancellationToken).ConfigureAwait(false);
                if (message.Request is { } request)
                {
                    request.SentGeneration = generation;
                }

                _outbox.Remove(message);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return (WriteEnd.Canceled, null);
        }
        catch (Exception ex)
        {
            Log.SendFailed(_logger, Name, ex);
            return (WriteEnd.Failed, ex);
        }
    }

    private async Task<ConnectionEnd> ReceiveLoopAsync(ClientWebSocket socket, int generation, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (true)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    // More is coming: checked against the limit itself, not the rented buffer's length (which may be larger).
                    if (count >= _options.MaxMessageSize)
                    {
                        Log.MessageTooBig(_logger, Name, _options.MaxMessageSize);
                        await socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, "Message too big.", cancellationToken).ConfigureAwait(false);
                        return new ConnectionEnd(SocketClientDisconnectReason.MessageTooBig, WebSocketCloseStatus.MessageTooBig, null);
                    }

                    if (count == buffer.Length)
                    {
                        var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, _options.MaxMessageSize));
                        buffer.AsSpan(0, count).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                    }

                    var room = Math.Min(buffer.Length, _options.MaxMessageSize) - count;
                    result = await socket.ReceiveAsync(buffer.AsMemory(count, room), cancellationToken).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        if (socket.State == WebSocketState.CloseReceived)
                        {
                            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken).ConfigureAwait(false);
                        }

                        return new ConnectionEnd(SocketClientDisconnectReason.ServerClosed, socket.CloseStatus, null);
                    }

                    count += result.Count;
                }
                while (!result.EndOfMessage);

                Received(result.MessageType, buffer.AsSpan(0, count), generation);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new ConnectionEnd(SocketClientDisconnectReason.ConnectionLost, socket.CloseStatus, null);
        }
        catch (Exception ex)
        {
            return new ConnectionEnd(SocketClientDisconnectReason.ConnectionLost, socket.CloseStatus, ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Routes one received message: replies complete their requests here; everything else goes to the handler loop.</summary>
    private void Received(WebSocketMessageType type, ReadOnlySpan<byte> payload, int generation)
    {
        if (type == WebSocketMessageType.Binary || _options.Protocol == SocketClientProtocol.Raw)
        {
            ToHandlers(InboundMessage.Raw(generation, type, payload.ToArray()));
            return;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload.ToArray());
        }
        catch (JsonException ex)
        {
            Log.BadMessage(_logger, Name, ex.Message);
            return;
        }

        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            Log.BadMessage(_logger, Name, "not a JSON object");
            document.Dispose();
            return;
        }

        if (root.TryGetProperty("reply", out var replyId))
        {
            using (document)
            {
                CompleteRequest(root, replyId);
            }

            return;
        }

        if (!root.TryGetProperty("event", out var eventName) || eventName.ValueKind != JsonValueKind.String || eventName.GetString() is not { Length: > 0 } name)
        {
            Log.BadMessage(_logger, Name, "no event name");
            document.Dispose();
            return;
        }

        long? id = null;
        if (root.TryGetProperty("id", out var idElement))
        {
            if (!idElement.TryGetInt64(out var value) || value < 1)
            {
                Log.BadMessage(_logger, Name, "a request ID that is not a positive integer");
                document.Dispose();
                return;
            }

            id = value;
        }

        root.TryGetProperty("data", out var data);
        ToHandlers(InboundMessage.Event(generation, document, name, data, id));
    }

    /// <summary>
    /// Queues a message for the handlers without ever waiting, so that the receive loop goes on reading (and replies to
    /// the client's own requests go on completing). A message that finds the queue full is dropped, logged (once per
    /// overflow) and counted; a server request is answered <c>client_busy</c> so that the server does not wait for it.
    /// </summary>
    private void ToHandlers(InboundMessage message)
    {
        if (_inbound.Writer.TryWrite(message))
        {
            _inboundFull = false;
            return;
        }

        using (message)
        {
            if (_disposeCts.IsCancellationRequested)
            {
                return;
            }

            _metrics.MessagesDropped(1, "inbound_full");
            if (!_inboundFull)
            {
                _inboundFull = true;
                Log.InboundFull(_logger, Name, _options.InboundCapacity);
            }

            if (message.Id is { } id)
            {
                Reply(message.Generation, ProtocolWriter.ErrorReply(id, "client_busy", $"The client's queue of {_options.InboundCapacity} messages waiting for its handlers is full."));
            }
        }
    }

    private void CompleteRequest(JsonElement root, JsonElement replyId)
    {
        if (!replyId.TryGetInt64(out var id) || !_pending.TryGetValue(id, out var request))
        {
            Log.UnknownReply(_logger, Name, replyId.GetRawText());
            return;
        }

        if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
        {
            var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "error";
            var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "The request failed.";
            request.TrySetException(new SocketClientRequestException(code, message));
            return;
        }

        request.TrySetReply(root.TryGetProperty("data", out var data) ? data.Clone() : default);
    }

    private void FailPendingRequests(int generation)
    {
        var failed = 0;
        foreach (var (_, request) in _pending)
        {
            if (request.SentGeneration == generation
                && request.TrySetException(new SocketClientRequestException(
                    SocketClientRequestException.ConnectionClosedCode,
                    $"The connection of WebSocket client '{Name}' closed before the reply to request '{request.EventName}' (id {request.Id}) arrived.")))
            {
                failed++;
            }
        }

        if (failed > 0)
        {
            Log.RequestsFailed(_logger, Name, failed);
        }
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        Task? run;
        CancellationTokenSource? runCts;
        lock (_lock)
        {
            _stopRequested = true;
            run = _runTask;
            runCts = _runCts;
        }

        _outbox.Wake();
        if (run is not null && runCts is not null)
        {
            if (State == SocketClientState.Connected)
            {
                // The write pump flushes the outbox and sends the close frame; the run loop ends after the server's.
                using var timeout = new CancellationTokenSource(_options.CloseTimeout, _time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
                try
                {
                    await run.WaitAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    Log.CloseTimedOut(_logger, Name, _options.CloseTimeout);
                }
            }

            await runCts.CancelAsync().ConfigureAwait(false);
            await run.ConfigureAwait(false);
        }

        var left = _outbox.Clear(Volatile.Read(ref _generation));
        foreach (var message in left)
        {
            message.Request?.TrySetException(new SocketClientRequestException(
                SocketClientRequestException.ConnectionClosedCode, $"The WebSocket client '{Name}' was stopped before request '{message.Request.EventName}' was sent."));
        }

        var dropped = left.Count(m => m.Request is null && m.Generation == 0);
        if (dropped > 0)
        {
            _metrics.MessagesDropped(dropped, "stopped");
            Log.MessagesDiscarded(_logger, Name, dropped);
        }

        foreach (var (_, request) in _pending)
        {
            request.TrySetException(new SocketClientRequestException(
                SocketClientRequestException.ConnectionClosedCode, $"The WebSocket client '{Name}' was stopped before the reply to request '{request.EventName}' (id {request.Id}) arrived."));
        }

        _connected?.TrySetCanceled(CancellationToken.None);
        if (_started && State != SocketClientState.Disconnected)
        {
            SetState(new SocketClientStateChangedEventArgs(SocketClientState.Disconnected, reason: SocketClientDisconnectReason.Stopped));
        }
    }

    private void SetState(SocketClientStateChangedEventArgs change)
    {
        Volatile.Write(ref _state, (int)change.State);
        try
        {
            StateChanged?.Invoke(this, change);
        }
        catch (Exception ex)
        {
            Log.StateHandlerFailed(_logger, Name, change.State, ex);
        }
    }
}
