using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace WebSockets.Internal;

/// <summary>
/// Speaks the event protocol (docs/protocol.md) for one namespace: routes events and requests to their handlers,
/// replies to requests, completes the server's own requests, and answers every bad message with an error notice or
/// error reply while the connection stays open.
/// </summary>
internal sealed partial class EventDispatcher : IMessageDispatcher
{
    private readonly NamespaceState _namespace;
    private readonly SocketRegistryOptions _options;
    private readonly IServiceScopeFactory _scopeFactory;
    private readonly MessageHandler? _binary;
    private readonly ILogger _logger;

    public EventDispatcher(NamespaceState ns, SocketRegistry registry, IServiceProvider services)
    {
        _namespace = ns;
        _options = registry.Options;
        _scopeFactory = services.GetRequiredService<IServiceScopeFactory>();
        _binary = ns.BinaryHandler is { } binary ? new MessageHandler(binary, services, registry, binaryOfNamespace: true) : null;
        _logger = services.GetRequiredService<ILoggerFactory>().CreateLogger<EventDispatcher>();
    }

    public ValueTask HandleAsync(SocketConnection connection, SocketMessage message, CancellationToken cancellationToken)
    {
        if (!message.IsText)
        {
            return connection.TryAcquireMessagePermit()
                ? HandleBinaryAsync(connection, message, cancellationToken)
                : RefuseRateLimitedAsync(connection, eventName: null, id: null, cancellationToken);
        }

        var parsed = EventEnvelope.TryParse(message.Data.Span, out var envelope, out var code, out var text);

        // A reply to a request the server is waiting for is never rate limited: the server asked for it.
        if (parsed && envelope.Reply is { } awaitedId && connection.TryCompleteReply(awaitedId, envelope.Data, envelope.Error))
        {
            return default;
        }

        if (!connection.TryAcquireMessagePermit())
        {
            return RefuseRateLimitedAsync(connection, envelope.Event, envelope.Id, cancellationToken);
        }

        if (!parsed)
        {
            return ReportAsync(connection, new SocketEventError(code, text, envelope.Event, envelope.Id), cancellationToken);
        }

        if (envelope.Reply is { } replyId)
        {
            return ReportAsync(connection, new SocketEventError(ErrorNotice.UnknownReply, $"No request with id {replyId} is waiting for a reply; it may have timed out.", requestId: replyId), cancellationToken);
        }

        var eventName = envelope.Event;
        var id = envelope.Id;
        if (string.IsNullOrEmpty(eventName))
        {
            return ReportAsync(connection, new SocketEventError(ErrorNotice.BadMessage, "The message has no \"event\" name; an event or request needs a non-empty one.", requestId: id), cancellationToken);
        }

        if (!_namespace.Events.TryGetValue(eventName, out var registration))
        {
            return ReportAsync(connection, new SocketEventError(ErrorNotice.UnknownEvent, $"Namespace '{_namespace.Name}' has no event '{eventName}'.", eventName, id), cancellationToken);
        }

        object? argument = null;
        var handler = registration.Handler;
        if (handler.Kind != MessageKind.None)
        {
            var data = envelope.Data.IsEmpty ? "null"u8 : envelope.Data;
            if (!handler.TryDeserialize(data, _options.JsonSerializerOptions, out argument, out code, out text))
            {
                return ReportAsync(connection, new SocketEventError(code, text, eventName, id), cancellationToken);
            }
        }

        if (id is { } requestId)
        {
            switch (connection.TryBeginRequest(requestId))
            {
                case RequestAdmission.DuplicateId:
                    return ReportAsync(connection, new SocketEventError(ErrorNotice.DuplicateId, $"Request id {requestId} is already being handled; use a new id per request.", eventName, requestId), cancellationToken);
                case RequestAdmission.TooManyRequests:
                    return RefuseTooManyRequestsAsync(connection, eventName, requestId, cancellationToken);
            }
        }

        if (connection.InvocationsIdle)
        {
            // The common case: nothing runs, so the handler starts now, without a closure to queue it.
            connection.TrackInvocation(InvokeAsync(connection, registration, argument, id, cancellationToken));
            return default;
        }

        return EnqueueOrRefuse(connection, registration, argument, id, cancellationToken);
    }

    /// <summary>
    /// Queues a handler behind the running one, or refuses it with "busy". A method of its own so that the closure
    /// is only allocated here, not on the common path where the handler starts at once.
    /// </summary>
    private ValueTask EnqueueOrRefuse(SocketConnection connection, EventRegistration registration, object? argument, long? id, CancellationToken cancellationToken)
    {
        if (connection.TryEnqueueInvocation(() => InvokeAsync(connection, registration, argument, id, cancellationToken)))
        {
            return default;
        }

        if (id is { } refusedId)
        {
            connection.EndRequest(refusedId);
        }

        return ReportBusyAsync(connection, registration.Name, id, cancellationToken);
    }

    private ValueTask HandleBinaryAsync(SocketConnection connection, SocketMessage message, CancellationToken cancellationToken)
    {
        if (_binary is not { } binary)
        {
            return ReportAsync(connection, new SocketEventError(ErrorNotice.BinaryNotSupported, $"Namespace '{_namespace.Name}' does not handle binary frames."), cancellationToken);
        }

        // The frame is handled off the read pump, with its own copy of the payload: a binary handler may await a
        // request to its client, whose reply the read pump must still be free to read.
        var copy = new SocketMessage(message.MessageType, message.Data.ToArray());
        if (connection.InvocationsIdle)
        {
            connection.TrackInvocation(RunBinaryAsync(binary, connection, copy, _logger, cancellationToken));
            return default;
        }

        return connection.TryEnqueueInvocation(() => RunBinaryAsync(binary, connection, copy, _logger, cancellationToken))
            ? default
            : ReportBusyAsync(connection, eventName: null, id: null, cancellationToken);
    }

    private ValueTask ReportBusyAsync(SocketConnection connection, string? eventName, long? id, CancellationToken cancellationToken)
    {
        connection.Metrics.MessageRejected(_namespace.Name, RejectionReason.Busy);
        return ReportAsync(connection, new SocketEventError(
            ErrorNotice.Busy,
            $"{SocketConnection.MaxQueuedInvocations} messages of this connection are already waiting for their handlers; this one was refused. Wait for replies before sending more.",
            eventName,
            id), cancellationToken);
    }

    /// <summary>A message over the rate limit: under Reject the client is told (an error reply for a request); under Close, not.</summary>
    private ValueTask RefuseRateLimitedAsync(SocketConnection connection, string? eventName, long? id, CancellationToken cancellationToken)
        => connection.AnswersRateLimitedMessages
            ? ReportAsync(connection, new SocketEventError(
                ErrorNotice.RateLimited,
                "This connection sends messages faster than the server allows; this one was dropped. Slow down.",
                eventName,
                id), cancellationToken)
            : default;

    private ValueTask RefuseTooManyRequestsAsync(SocketConnection connection, string eventName, long id, CancellationToken cancellationToken)
    {
        connection.Metrics.MessageRejected(_namespace.Name, RejectionReason.TooManyRequests);
        LimitsLog.TooManyRequests(_logger, connection.Id, connection.MaxPendingRequests, id, eventName);
        return ReportAsync(connection, new SocketEventError(
            ErrorNotice.TooManyRequests,
            $"{connection.MaxPendingRequests} requests of this connection are already pending; this one was refused. Wait for replies before sending more.",
            eventName,
            id), cancellationToken);
    }

    /// <summary>Runs the binary handler on the invocation chain. Never throws.</summary>
    private static async Task RunBinaryAsync(MessageHandler binary, SocketConnection connection, SocketMessage message, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            await binary.HandleMessageAsync(connection, message, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The connection ended.
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(logger, "(binary)", connection.Id, ex);
        }
    }

    /// <summary>Runs one handler. Never throws: it runs on the connection's invocation chain.</summary>
    private async Task InvokeAsync(SocketConnection connection, EventRegistration registration, object? argument, long? id, CancellationToken cancellationToken)
    {
        using var deadline = connection.StartHandlerDeadline(cancellationToken);
        var telemetry = HandlerTelemetry.Start(connection, registration.SpanName ??= _namespace.Name + "/" + registration.Name, registration.Name, id);
        try
        {
            if (registration.Authorization is { } authorization && !await IsAuthorizedAsync(connection, authorization))
            {
                connection.Metrics.MessageRejected(_namespace.Name, RejectionReason.Forbidden);
                telemetry.Fail(ErrorNotice.Forbidden, "The user is not authorized to send this event.");
                await ReportAsync(connection, new SocketEventError(ErrorNotice.Forbidden, $"The user is not authorized to send event '{registration.Name}'.", registration.Name, id), cancellationToken);
                return;
            }

            object? result;
            var handler = registration.Handler;
            var scope = handler.NeedsScope ? _scopeFactory.CreateAsyncScope() : default;
            var context = new HandlerContext
            {
                Connection = connection,
                Message = argument,
                Token = deadline.TokenOr(cancellationToken),
                Services = handler.NeedsScope ? scope.ServiceProvider : null,
            };
            Task<object?>? abandoned = null;
            try
            {
                if (registration.CreateTarget is { } createTarget)
                {
                    context.Target = createTarget(scope.ServiceProvider, connection);
                }

                var invoking = handler.Invoke(context);
                if (deadline.IsActive && !invoking.IsCompleted)
                {
                    var running = invoking.AsTask();
                    abandoned = running;
                    result = await running.WaitAsync(context.Token);
                    abandoned = null;
                }
                else
                {
                    result = await invoking;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return; // the connection ended while the handler ran
            }
            catch (OperationCanceledException) when (deadline.HasExpired(cancellationToken))
            {
                // The handler is canceled; the connection stops waiting for it and goes on with its next message.
                telemetry.Fail(ErrorNotice.HandlerTimeout, "The handler did not finish within the handler timeout.");
                OnHandlerTimedOut(connection, registration.Name);
                await ReportAsync(connection, new SocketEventError(
                    ErrorNotice.HandlerTimeout,
                    $"The handler of event '{registration.Name}' did not finish within {connection.HandlerTimeout}; it was canceled.",
                    registration.Name,
                    id), cancellationToken);
                return;
            }
            catch (SocketRequestException ex)
            {
                // The handler refused the message on purpose: the client gets its code and message.
                telemetry.Fail(ex.Code, ex.Message);
                await ReportAsync(connection, new SocketEventError(ex.Code, ex.Message, registration.Name, id), cancellationToken);
                return;
            }
            catch (Exception ex)
            {
                telemetry.Fail(ex.GetType().FullName ?? ex.GetType().Name, ex.Message, ex);
                Log.HandlerFailed(_logger, registration.Name, connection.Id, ex);
                var text = _options.EnableDetailedErrors
                    ? $"An error occurred while handling event '{registration.Name}': {ex.GetType().Name}: {ex.Message}"
                    : $"An error occurred while handling event '{registration.Name}'.";
                await ReportAsync(connection, new SocketEventError(ErrorNotice.HandlerFailed, text, registration.Name, id, ex), cancellationToken);
                return;
            }
            finally
            {
                if (abandoned is { IsCompleted: false })
                {
                    // Its services are disposed when it ends, not under it.
                    _ = AbandonedHandler.FinishAsync(abandoned, connection, handler.NeedsScope ? scope : null, context.Target, _logger);
                }
                else
                {
                    _ = abandoned?.Exception; // it timed out as it failed: observed here
                    if (handler.NeedsScope)
                    {
                        await ControllerBinder.DisposeAsync(context.Target);
                        await scope.DisposeAsync();
                    }
                }
            }

            if (id is { } requestId)
            {
                await connection.SendAsync(EventMessage.Reply(requestId, result, handler.ResultType, _options.JsonSerializerOptions, handler.ResultTypeInfo), cancellationToken);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // For example a reply that cannot be serialized.
            telemetry.Fail(ex.GetType().FullName ?? ex.GetType().Name, ex.Message, ex);
            Log.HandlerFailed(_logger, registration.Name, connection.Id, ex);
            if (id is { } requestId)
            {
                await connection.SendAsync(EventMessage.ErrorReply(requestId, ErrorNotice.HandlerFailed, $"The reply to event '{registration.Name}' could not be sent."), CancellationToken.None);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            telemetry.Stop();
            if (id is { } requestId)
            {
                connection.EndRequest(requestId);
            }
        }
    }

    private async ValueTask<bool> IsAuthorizedAsync(SocketConnection connection, Microsoft.AspNetCore.Authorization.IAuthorizeData[] authorization)
    {
        // Authorization handlers may be scoped services.
        await using var scope = _scopeFactory.CreateAsyncScope();
        return await EventAuthorization.IsAuthorizedAsync(scope.ServiceProvider, connection, authorization);
    }

    private void OnHandlerTimedOut(SocketConnection connection, string eventName)
    {
        connection.Metrics.HandlerTimedOut(_namespace.Name);
        LimitsLog.HandlerTimedOut(_logger, eventName, connection.HandlerTimeout, connection.Id);
    }

    /// <summary>
    /// Tells the client: an error reply when the failed message was a request, otherwise an error notice. Then runs
    /// the namespace's error hooks.
    /// </summary>
    private async ValueTask ReportAsync(SocketConnection connection, SocketEventError error, CancellationToken cancellationToken)
    {
        if (error.Exception is null)
        {
            Log.MessageRejected(_logger, connection.Id, error.Code, error.EventName);
        }

        var message = error.RequestId is { } id && error.Code is not (ErrorNotice.UnknownReply or ErrorNotice.DuplicateId)
            ? EventMessage.ErrorReply(id, error.Code, error.Message)
            : EventMessage.ErrorNotice(error.Code, error.Message, error.RequestId);
        await connection.SendAsync(message, cancellationToken);
        if (error.Code == ErrorNotice.RateLimited)
        {
            return; // a flood must cost no application work per message: it is counted instead
        }

        foreach (var hook in _namespace.ErrorHooks)
        {
            try
            {
                await hook(connection, error, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Log.ErrorHookFailed(_logger, _namespace.Name, connection.Id, ex);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(80, LogLevel.Debug, "Rejected a message from connection {ConnectionId}: {Code} (event '{EventName}').", EventName = "MessageRejected")]
        public static partial void MessageRejected(ILogger logger, string connectionId, string code, string? eventName);

        [LoggerMessage(81, LogLevel.Error, "The handler of event '{EventName}' failed for connection {ConnectionId}.", EventName = "EventHandlerFailed")]
        public static partial void HandlerFailed(ILogger logger, string eventName, string connectionId, Exception exception);

        [LoggerMessage(82, LogLevel.Error, "An error hook of namespace '{Namespace}' failed for connection {ConnectionId}.", EventName = "ErrorHookFailed")]
        public static partial void ErrorHookFailed(ILogger logger, string @namespace, string connectionId, Exception exception);
    }
}
