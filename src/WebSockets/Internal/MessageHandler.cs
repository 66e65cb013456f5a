using System.Linq.Expressions;
using System.Net.WebSockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace WebSockets.Internal;

/// <summary>
/// A GoFr-style message handler: a delegate whose parameters are bound per message (the message itself, the
/// connection, a token, services from a per-message scope) and whose return value is written back.
/// The binding is worked out and compiled once, when the endpoint is mapped.
/// </summary>
internal sealed partial class MessageHandler
{
    private static readonly MethodInfo s_getRequiredService = typeof(ServiceProviderServiceExtensions)
        .GetMethod(nameof(ServiceProviderServiceExtensions.GetRequiredService), [typeof(IServiceProvider), typeof(Type)])!;

    private readonly Func<HandlerContext, ValueTask<object?>> _invoke;
    private readonly MessageKind _kind;
    private readonly Type? _messageType;
    private readonly bool _messageMayBeNull;
    private readonly bool _needsScope;
    private readonly Type _resultType;
    private readonly IServiceScopeFactory _scopeFactory;
    private readonly SocketRegistryOptions _options;
    private readonly ILogger _logger;

    private MessageHandler(Func<HandlerContext, ValueTask<object?>> invoke, MessageKind kind, Type? messageType, bool messageMayBeNull, bool needsScope, Type resultType, IServiceProvider services, SocketRegistry registry)
    {
        _invoke = invoke;
        _kind = kind;
        _messageType = messageType;
        _messageMayBeNull = messageMayBeNull;
        _needsScope = needsScope;
        _resultType = resultType;
        _scopeFactory = services.GetRequiredService<IServiceScopeFactory>();
        _options = registry.Options;
        _logger = services.GetRequiredService<ILoggerFactory>().CreateLogger<MessageHandler>();
    }

    private enum MessageKind
    {
        None,
        Text,
        Bytes,
        Memory,
        Message,
        Json,
    }

    /// <summary>Whether binary frames reach the handler; otherwise they get an error notice.</summary>
    public bool AcceptsBinary => _kind is MessageKind.None or MessageKind.Bytes or MessageKind.Memory or MessageKind.Message;

    public static MessageHandler Create(Delegate handler, IServiceProvider services, SocketRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var method = handler.Method;
        var isService = services.GetService<IServiceProviderIsService>();
        var context = Expression.Parameter(typeof(HandlerContext), "context");
        var parameters = method.GetParameters();
        var arguments = new Expression[parameters.Length];
        var kind = MessageKind.None;
        Type? messageType = null;
        var messageMayBeNull = false;
        var needsScope = false;
        ParameterInfo? messageParameter = null;

        for (var i = 0; i < parameters.Length; i++)
        {
            var parameter = parameters[i];
            var type = parameter.ParameterType;
            if (type.IsByRef)
            {
                throw new InvalidOperationException($"Handler parameter '{parameter.Name}' is passed by reference, which a WebSocket message handler cannot bind.");
            }

            if (type == typeof(ISocketConnection))
            {
                arguments[i] = Expression.Field(context, nameof(HandlerContext.Connection));
            }
            else if (type == typeof(CancellationToken))
            {
                arguments[i] = Expression.Field(context, nameof(HandlerContext.Token));
            }
            else if (type == typeof(ClaimsPrincipal))
            {
                arguments[i] = Expression.Property(Expression.Field(context, nameof(HandlerContext.Connection)), nameof(ISocketConnection.User));
            }
            else if (type == typeof(SocketSession))
            {
                arguments[i] = Expression.Property(Expression.Field(context, nameof(HandlerContext.Connection)), nameof(ISocketConnection.Session));
            }
            else if (type == typeof(HttpContext) || type == typeof(WebSocket))
            {
                throw new InvalidOperationException(
                    $"Handler parameter '{parameter.Name}' of type {type.Name} cannot be bound: the request and the socket belong to the connection, not to a message. Take ISocketConnection instead.");
            }
            else if (IsFromServices(parameter) || (!IsMessageType(type) && isService?.IsService(type) == true))
            {
                needsScope = true;
                arguments[i] = Expression.Convert(
                    Expression.Call(s_getRequiredService, Expression.Field(context, nameof(HandlerContext.Services)), Expression.Constant(type, typeof(Type))),
                    type);
            }
            else
            {
                if (messageParameter is not null)
                {
                    throw new InvalidOperationException(
                        $"Handler parameters '{messageParameter.Name}' and '{parameter.Name}' both look like the message: only one parameter can bind the message. If one is a service, register it in DI or mark it [FromServices].");
                }

                messageParameter = parameter;
                kind = type == typeof(string) ? MessageKind.Text
                    : type == typeof(byte[]) ? MessageKind.Bytes
                    : type == typeof(ReadOnlyMemory<byte>) ? MessageKind.Memory
                    : type == typeof(SocketMessage) ? MessageKind.Message
                    : MessageKind.Json;
                messageType = type;
                messageMayBeNull = !type.IsValueType
                    ? new NullabilityInfoContext().Create(parameter).WriteState == NullabilityState.Nullable
                    : Nullable.GetUnderlyingType(type) is not null;
                arguments[i] = Expression.Convert(Expression.Field(context, nameof(HandlerContext.Message)), type);
            }
        }

        Expression call = handler.Target is null
            ? Expression.Call(method, arguments)
            : Expression.Call(Expression.Constant(handler.Target), method, arguments);
        var (body, resultType) = AdaptResult(call, method.ReturnType);
        var invoke = Expression.Lambda<Func<HandlerContext, ValueTask<object?>>>(body, context).Compile();
        return new MessageHandler(invoke, kind, messageType, messageMayBeNull, needsScope, resultType, services, registry);
    }

    private static bool IsMessageType(Type type)
        => type == typeof(string) || type == typeof(byte[]) || type == typeof(ReadOnlyMemory<byte>) || type == typeof(SocketMessage);

    private static bool IsFromServices(ParameterInfo parameter)
        => parameter.GetCustomAttributes(inherit: true).Any(static a => a is IFromServiceMetadata);

    /// <summary>Wraps the call so it yields a ValueTask of the result, whatever the handler returns.</summary>
    private static (Expression Body, Type ResultType) AdaptResult(Expression call, Type returnType)
    {
        if (returnType == typeof(void))
        {
            return (Expression.Block(call, Expression.Default(typeof(ValueTask<object?>))), typeof(void));
        }

        if (returnType == typeof(Task))
        {
            return (Expression.Call(typeof(MessageHandler).GetMethod(nameof(AwaitTask), BindingFlags.NonPublic | BindingFlags.Static)!, call), typeof(void));
        }

        if (returnType == typeof(ValueTask))
        {
            return (Expression.Call(typeof(MessageHandler).GetMethod(nameof(AwaitValueTask), BindingFlags.NonPublic | BindingFlags.Static)!, call), typeof(void));
        }

        if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(Task<>))
        {
            var t = returnType.GetGenericArguments()[0];
            return (Expression.Call(typeof(MessageHandler).GetMethod(nameof(AwaitTaskOfT), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(t), call), t);
        }

        if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(ValueTask<>))
        {
            var t = returnType.GetGenericArguments()[0];
            return (Expression.Call(typeof(MessageHandler).GetMethod(nameof(AwaitValueTaskOfT), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(t), call), t);
        }

        var result = Expression.New(typeof(ValueTask<object?>).GetConstructor([typeof(object)])!, Expression.Convert(call, typeof(object)));
        return (result, returnType);
    }

    private static async ValueTask<object?> AwaitTask(Task task)
    {
        await task;
        return null;
    }

    private static async ValueTask<object?> AwaitValueTask(ValueTask task)
    {
        await task;
        return null;
    }

    private static async ValueTask<object?> AwaitTaskOfT<T>(Task<T> task) => await task;

    private static async ValueTask<object?> AwaitValueTaskOfT<T>(ValueTask<T> task) => await task;

    /// <summary>Binds one message, runs the handler and queues its result. Never throws for bad input or handler errors.</summary>
    public async ValueTask HandleAsync(SocketConnection connection, SocketMessage message, CancellationToken cancellationToken)
    {
        if (!message.IsText && !AcceptsBinary)
        {
            await connection.SendAsync(ErrorNotice.Create(ErrorNotice.BinaryNotSupported, "This endpoint accepts text messages only; binary frames are not handled."), cancellationToken);
            return;
        }

        object? argument;
        switch (_kind)
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
                if (!TryDeserialize(message.Data, out argument, out var error))
                {
                    Log.MessageNotBound(_logger, connection.Id, _messageType!.Name, error.Code);
                    await connection.SendAsync(ErrorNotice.Create(error.Code, error.Message), cancellationToken);
                    return;
                }

                break;
        }

        object? result;
        var scope = _needsScope ? _scopeFactory.CreateAsyncScope() : default;
        try
        {
            var context = new HandlerContext
            {
                Connection = connection,
                Message = argument,
                Token = cancellationToken,
                Services = _needsScope ? scope.ServiceProvider : null,
            };
            result = await _invoke(context);
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
            await connection.SendAsync(ErrorNotice.Create(ErrorNotice.HandlerFailed, text), cancellationToken);
            return;
        }
        finally
        {
            if (_needsScope)
            {
                await scope.DisposeAsync();
            }
        }

        if (result is not null)
        {
            var reply = MessageFactory.CreateFromObject(result, _resultType, _options.JsonSerializerOptions);
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

    private bool TryDeserialize(ReadOnlyMemory<byte> data, out object? value, out (string Code, string Message) error)
    {
        try
        {
            value = JsonSerializer.Deserialize(data.Span, _messageType!, _options.JsonSerializerOptions);
        }
        catch (JsonException ex)
        {
            value = null;
            // Only on failure: tell malformed JSON from well-formed JSON of the wrong shape.
            error = IsWellFormedJson(data.Span)
                ? (ErrorNotice.BadData, $"The message does not match the expected {_messageType!.Name}: {ex.Message}")
                : (ErrorNotice.BadJson, $"The message is not valid JSON: {ex.Message}");
            return false;
        }

        if (value is null && !_messageMayBeNull)
        {
            error = (ErrorNotice.BadData, $"The message must be a {_messageType!.Name}, not null.");
            return false;
        }

        error = default;
        return true;
    }

    private static bool IsWellFormedJson(ReadOnlySpan<byte> data)
    {
        try
        {
            var reader = new Utf8JsonReader(data);
            while (reader.Read())
            {
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    internal sealed class HandlerContext
    {
        public ISocketConnection Connection = null!;
        public object? Message;
        public CancellationToken Token;
        public IServiceProvider? Services;
    }
}
