using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace WebSockets.Internal;

/// <summary>
/// A GoFr-style message handler: a delegate whose parameters are bound per message (the message itself, the
/// connection, a token, services from a per-message scope) and whose return value is written back.
/// The binding is worked out and compiled once, when the endpoint is mapped.
/// </summary>
internal sealed partial class MessageHandler : IMessageDispatcher
{
    private readonly BoundHandler _handler;
    private readonly IServiceScopeFactory _scopeFactory;
    private readonly SocketRegistryOptions _options;
    private readonly ILogger _logger;

    private readonly bool _binaryOfNamespace;

    /// <param name="handler">The bound handler.</param>
    /// <param name="services">The application's services.</param>
    /// <param name="registry">The registry.</param>
    /// <param name="binaryOfNamespace">Whether it is an event namespace's binary handler rather than a raw endpoint's handler (names its spans).</param>
    internal MessageHandler(BoundHandler handler, IServiceProvider services, SocketRegistry registry, bool binaryOfNamespace = false)
    {
        _handler = handler;
        _binaryOfNamespace = binaryOfNamespace;
        _scopeFactory = services.GetRequiredService<IServiceScopeFactory>();
        _options = registry.Options;
        _logger = services.GetRequiredService<ILoggerFactory>().CreateLogger<MessageHandler>();
    }

    /// <summary>Whether binary frames reach the handler; otherwise they get an error notice.</summary>
    public bool AcceptsBinary => _handler.Kind is MessageKind.None or MessageKind.Bytes or MessageKind.Memory or MessageKind.Message;

    [RequiresUnreferencedCode(HandlerBinder.RequiresUnreferencedCodeMessage)]
    [RequiresDynamicCode(HandlerBinder.RequiresDynamicCodeMessage)]
    public static MessageHandler Create(Delegate handler, IServiceProvider services, SocketRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(handler);
        EventAuthorization.RefuseOnRawHandler(handler, "The WebSocket message handler");
        var bound = HandlerBinder.Bind(handler.Method, handler.Target, targetType: null, services, rawMessages: true, "The WebSocket message handler");
        return new MessageHandler(bound, services, registry);
    }

    /// <summary>
    /// Handles one message of a raw endpoint: refused when over the connection's rate limit (with an error notice under
    /// <see cref="MessageRateLimitMode.Reject"/>), otherwise <see cref="HandleMessageAsync"/>.
    /// </summary>
    public ValueTask HandleAsync(SocketConnection connection, SocketMessage message, CancellationToken cancellationToken)
    {
        if (connection.TryAcquireMessagePermit())
        {
            return HandleMessageAsync(connection, message, cancellationToken);
        }

        return connection.AnswersRateLimitedMessages
            ? connection.SendAsync(EventMessage.ErrorNotice(ErrorNotice.RateLimited, "This connection sends messages faster than the server allows; this one was dropped. Slow down."), cancellationToken)
            : default;
    }

    /// <summary>Binds one message, runs the handler and queues its result. Never throws for bad input or handler errors.</summary>
    internal async ValueTask HandleMessageAsync(SocketConnection connection, SocketMessage message, CancellationToken cancellationToken)
    {
        if (!message.IsText && !AcceptsBinary)
        {
            await connection.SendAsync(EventMessage.ErrorNotice(ErrorNotice.BinaryNotSupported, "This endpoint accepts text messages only; binary frames are not handled."), cancellationToken);
            return;
        }

        object? argument;
        switch (_handler.Kind)
        {
            case MessageKind.None:
                argument = null;
                break;
            case MessageKind.Text:
                argument = message.GetText();
                break;
            case MessageKind.Bytes:
                argument = message.Data.ToArray();
                break;
            case MessageKind.Memory:
                // The payload sits in a pooled buffer that is reused once this message has been handled: the
                // handler gets its own copy, so it may keep, send or broadcast it.
                argument = new ReadOnlyMemory<byte>(message.Data.ToArray());
                break;
            case MessageKind.Message:
                argument = new SocketMessage(message.MessageType, message.Data.ToArray());
                break;
            default:
                if (!_handler.TryDeserialize(message.Data.Span, _options.JsonSerializerOptions, out argument, out var code, out var error))
                {
                    Log.MessageNotBound(_logger, connection.Id, _handler.MessageType!.Name, code);
                    await connection.SendAsync(EventMessage.ErrorNotice(code, error), cancellationToken);
                    return;
                }

                break;
        }

        var telemetry = HandlerTelemetry.Start(
            connection, _binaryOfNamespace ? connection.NamespaceState.BinarySpanName : connection.NamespaceState.MessageSpanName, eventName: null, requestId: null);
        try
        {
            object? result;
            var scope = _handler.NeedsScope ? _scopeFactory.CreateAsyncScope() : default;
            using var deadline = connection.StartHandlerDeadline(cancellationToken);
            Task<object?>? abandoned = null;
            try
            {
                var context = new HandlerContext
                {
                    Connection = connection,
                    Message = argument,
                    Token = deadline.TokenOr(cancellationToken),
                    Services = _handler.NeedsScope ? scope.ServiceProvider : null,
                };
                var invoking = _handler.Invoke(context);
                if (deadline.IsActive && !invoking.IsCompleted)
                {
                    // The handler does not own the pooled payload (it got a copy), so it may outlive this wait.
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
                connection.Metrics.HandlerTimedOut(connection.Namespace);
                LimitsLog.MessageHandlerTimedOut(_logger, connection.HandlerTimeout, connection.Id);
                await connection.SendAsync(EventMessage.ErrorNotice(ErrorNotice.HandlerTimeout, $"The handler did not finish within {connection.HandlerTimeout}; it was canceled."), cancellationToken);
                return;
            }
            catch (SocketRequestException ex) when (ex.Code == ErrorNotice.ConnectionClosed && !connection.IsOpen)
            {
                // The client went away while the handler awaited its reply: not the application's error.
                telemetry.Fail(ex.Code, ex.Message);
                Log.HandlerEndedByClose(_logger, connection.Id);
                return;
            }
            catch (Exception ex)
            {
                telemetry.Fail(ex.GetType().FullName ?? ex.GetType().Name, ex.Message, ex);
                Log.HandlerFailed(_logger, connection.Id, ex);
                var text = _options.EnableDetailedErrors
                    ? $"An error occurred while handling the message: {ex.GetType().Name}: {ex.Message}"
                    : "An error occurred while handling the message.";
                await connection.SendAsync(EventMessage.ErrorNotice(ErrorNotice.HandlerFailed, text), cancellationToken);
                return;
            }
            finally
            {
                if (abandoned is { IsCompleted: false })
                {
                    // Its services are disposed when it ends, not under it.
                    _ = AbandonedHandler.FinishAsync(abandoned, connection, _handler.NeedsScope ? scope : null, target: null, _logger);
                }
                else
                {
                    _ = abandoned?.Exception; // it timed out as it failed: observed here
                    if (_handler.NeedsScope)
                    {
                        await DisposeScopeAsync(scope, connection.Id);
                    }
                }
            }

            if (result is not null)
            {
                SocketMessage reply;
                try
                {
                    reply = MessageFactory.CreateFromObject(result, _handler.ResultType, _options.JsonSerializerOptions, _handler.ResultTypeInfo);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // For example a result that cannot be serialized: report it like a failing handler.
                    telemetry.Fail(ex.GetType().FullName ?? ex.GetType().Name, ex.Message, ex);
                    Log.HandlerFailed(_logger, connection.Id, ex);
                    await connection.SendAsync(EventMessage.ErrorNotice(ErrorNotice.HandlerFailed, "The handler's result could not be sent."), cancellationToken);
                    return;
                }

                await connection.SendAsync(reply, cancellationToken);
            }
        }
        finally
        {
            telemetry.Stop();
        }
    }

    private async ValueTask DisposeScopeAsync(Microsoft.Extensions.DependencyInjection.AsyncServiceScope scope, string connectionId)
    {
        try
        {
            await scope.DisposeAsync();
        }
        catch (Exception ex)
        {
            // A service that fails to dispose is the application's bug, not the connection's.
            Log.HandlerFailed(_logger, connectionId, ex);
        }
    }
}
