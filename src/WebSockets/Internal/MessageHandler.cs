using System.Runtime.InteropServices;
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

    internal MessageHandler(BoundHandler handler, IServiceProvider services, SocketRegistry registry)
    {
        _handler = handler;
        _scopeFactory = services.GetRequiredService<IServiceScopeFactory>();
        _options = registry.Options;
        _logger = services.GetRequiredService<ILoggerFactory>().CreateLogger<MessageHandler>();
    }

    /// <summary>Whether binary frames reach the handler; otherwise they get an error notice.</summary>
    public bool AcceptsBinary => _handler.Kind is MessageKind.None or MessageKind.Bytes or MessageKind.Memory or MessageKind.Message;

    public static MessageHandler Create(Delegate handler, IServiceProvider services, SocketRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var bound = HandlerBinder.Bind(handler.Method, handler.Target, targetType: null, services, rawMessages: true, "The WebSocket message handler");
        return new MessageHandler(bound, services, registry);
    }

    /// <summary>Binds one message, runs the handler and queues its result. Never throws for bad input or handler errors.</summary>
    public async ValueTask HandleAsync(SocketConnection connection, SocketMessage message, CancellationToken cancellationToken)
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
                argument = message.Data;
                break;
            case MessageKind.Message:
                argument = message;
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

        object? result;
        var scope = _handler.NeedsScope ? _scopeFactory.CreateAsyncScope() : default;
        try
        {
            var context = new HandlerContext
            {
                Connection = connection,
                Message = argument,
                Token = cancellationToken,
                Services = _handler.NeedsScope ? scope.ServiceProvider : null,
            };
            result = await _handler.Invoke(context);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return; // the connection ended while the handler ran
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(_logger, connection.Id, ex);
            var text = _options.EnableDetailedErrors
                ? $"An error occurred while handling the message: {ex.GetType().Name}: {ex.Message}"
                : "An error occurred while handling the message.";
            await connection.SendAsync(EventMessage.ErrorNotice(ErrorNotice.HandlerFailed, text), cancellationToken);
            return;
        }
        finally
        {
            if (_handler.NeedsScope)
            {
                await scope.DisposeAsync();
            }
        }

        if (result is not null)
        {
            var reply = MessageFactory.CreateFromObject(result, _handler.ResultType, _options.JsonSerializerOptions);
            if (SharesMemory(reply.Data, message.Data))
            {
                // The received payload lives in a pooled buffer that is returned once this method ends, before the
                // write pump sends the reply: an echo of it must own its bytes.
                reply = new SocketMessage(reply.MessageType, reply.Data.ToArray());
            }

            await connection.SendAsync(reply, cancellationToken);
        }
    }

    private static bool SharesMemory(ReadOnlyMemory<byte> reply, ReadOnlyMemory<byte> received)
        => MemoryMarshal.TryGetArray(reply, out var a) && MemoryMarshal.TryGetArray(received, out var b) && ReferenceEquals(a.Array, b.Array);
}
