using System.Diagnostics.CodeAnalysis;
using System.Linq.Expressions;
using System.Net.WebSockets;
using System.Reflection;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.DependencyInjection;

namespace WebSockets.Internal;

/// <summary>How the message (or event data) reaches a handler parameter.</summary>
internal enum MessageKind
{
    None,
    Text,
    Bytes,
    Memory,
    Message,
    Json,
}

/// <summary>The per-invocation values a compiled handler reads its arguments from.</summary>
internal sealed class HandlerContext
{
    public ISocketConnection Connection = null!;
    public object? Message;
    public CancellationToken Token;
    public IServiceProvider? Services;
    public object? Target;
}

/// <summary>
/// A handler method whose parameters were matched once, at start-up, and compiled into one delegate: no reflection
/// per message.
/// </summary>
internal sealed class BoundHandler
{
    public required Func<HandlerContext, ValueTask<object?>> Invoke { get; init; }

    public required MessageKind Kind { get; init; }

    /// <summary>The message parameter's type, or null when the handler takes none.</summary>
    public Type? MessageType { get; init; }

    public bool MessageMayBeNull { get; init; }

    /// <summary>Whether a DI scope must be created per invocation (services or a scoped target).</summary>
    public bool NeedsScope { get; init; }

    /// <summary>The type of the awaited result; typeof(void) when there is none.</summary>
    public required Type ResultType { get; init; }

    /// <summary>Metadata for the message parameter that replaces the application's serializer options, or null.</summary>
    public JsonTypeInfo? MessageTypeInfo { get; init; }

    /// <summary>Metadata for the result that replaces the application's serializer options, or null.</summary>
    public JsonTypeInfo? ResultTypeInfo { get; init; }

    /// <summary>Deserializes JSON for the message parameter, telling malformed JSON from the wrong shape.</summary>
    public bool TryDeserialize(ReadOnlySpan<byte> json, JsonSerializerOptions options, out object? value, out string code, out string message)
    {
        var type = MessageType!;
        try
        {
            value = type == typeof(JsonElement) ? JsonElement.Parse(json) : JsonSerializer.Deserialize(json, MessageTypeInfo ?? options.GetTypeInfo(type));
        }
        catch (NotSupportedException ex)
        {
            // No JSON metadata for the type: a source-generated context that lacks it, or a type JSON can't bind.
            value = null;
            (code, message) = (ErrorNotice.BadData, $"The data can't be bound to {type.Name}: {ex.Message}");
            return false;
        }
        catch (JsonException ex)
        {
            value = null;

            // Only on failure: tell malformed JSON from well-formed JSON of the wrong shape.
            (code, message) = IsWellFormedJson(json)
                ? (ErrorNotice.BadData, $"The data does not match the expected {type.Name}: {ex.Message}")
                : (ErrorNotice.BadJson, $"The message is not valid JSON: {ex.Message}");
            return false;
        }

        if (value is null && !MessageMayBeNull)
        {
            (code, message) = (ErrorNotice.BadData, $"The data must be a {type.Name}, not null.");
            return false;
        }

        code = message = string.Empty;
        return true;
    }

    internal static bool IsWellFormedJson(ReadOnlySpan<byte> data)
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
}

/// <summary>
/// Matches handler parameters the way minimal APIs do: the connection, a token, the user, the session, services
/// (registered in DI or marked [FromServices]) and one message parameter.
/// </summary>
/// <remarks>
/// Reflection over the handler's parameters and a compiled expression tree: not trim- or Native AOT-safe, so every public
/// entry point that reaches it carries <see cref="RequiresUnreferencedCodeAttribute"/> and
/// <see cref="RequiresDynamicCodeAttribute"/>. <see cref="TypedHandler"/> is the reflection-free path.
/// </remarks>
internal static class HandlerBinder
{
    /// <summary>The message of the <see cref="RequiresUnreferencedCodeAttribute"/> on entry points that bind delegates.</summary>
    public const string RequiresUnreferencedCodeMessage =
        "Binds the handler's parameters by reflection, and message and reply types are serialized with the application's JsonSerializerOptions. " +
        "In trimmed or Native AOT apps, use the typed On<TData> and On<TData, TReply> overloads and a JsonSerializerContext.";

    /// <summary>The message of the <see cref="RequiresDynamicCodeAttribute"/> on entry points that bind delegates.</summary>
    public const string RequiresDynamicCodeMessage =
        "Compiles a call to the handler at run time (System.Linq.Expressions, MakeGenericMethod). " +
        "In Native AOT apps, use the typed On<TData> and On<TData, TReply> overloads.";

    private static readonly MethodInfo s_getRequiredService = typeof(ServiceProviderServiceExtensions)
        .GetMethod(nameof(ServiceProviderServiceExtensions.GetRequiredService), [typeof(IServiceProvider), typeof(Type)])!;

    /// <param name="method">The method to call.</param>
    /// <param name="target">The instance for a delegate's method, or null.</param>
    /// <param name="targetType">For controllers: the instance comes from <see cref="HandlerContext.Target"/>, of this type.</param>
    /// <param name="services">The application's services.</param>
    /// <param name="rawMessages">Whether string, byte[], memory and SocketMessage bind the raw frame (raw endpoints) or JSON (events).</param>
    /// <param name="description">Names the handler in error messages.</param>
    [RequiresUnreferencedCode(RequiresUnreferencedCodeMessage)]
    [RequiresDynamicCode(RequiresDynamicCodeMessage)]
    public static BoundHandler Bind(MethodInfo method, object? target, Type? targetType, IServiceProvider services, bool rawMessages, string description)
    {
        var isService = services.GetService<IServiceProviderIsService>();
        var context = Expression.Parameter(typeof(HandlerContext), "context");
        var parameters = method.GetParameters();
        var arguments = new Expression[parameters.Length];
        var kind = MessageKind.None;
        Type? messageType = null;
        var messageMayBeNull = false;
        var needsScope = targetType is not null;
        ParameterInfo? messageParameter = null;
        var connection = Expression.Field(context, nameof(HandlerContext.Connection));

        for (var i = 0; i < parameters.Length; i++)
        {
            var parameter = parameters[i];
            var type = parameter.ParameterType;
            if (type.IsByRef)
            {
                throw new InvalidOperationException($"{description}: parameter '{parameter.Name}' is passed by reference, which cannot be bound.");
            }

            if (type == typeof(ISocketConnection))
            {
                arguments[i] = connection;
            }
            else if (type == typeof(CancellationToken))
            {
                arguments[i] = Expression.Field(context, nameof(HandlerContext.Token));
            }
            else if (type == typeof(ClaimsPrincipal))
            {
                arguments[i] = Expression.Property(connection, nameof(ISocketConnection.User));
            }
            else if (type == typeof(SocketSession))
            {
                arguments[i] = Expression.Property(connection, nameof(ISocketConnection.Session));
            }
            else if (type == typeof(HttpContext) || type == typeof(WebSocket))
            {
                throw new InvalidOperationException(
                    $"{description}: parameter '{parameter.Name}' of type {type.Name} cannot be bound: the request and the socket belong to the connection, not to a message. Take ISocketConnection instead.");
            }
            else if (IsFromServices(parameter) || (!(rawMessages && IsRawMessageType(type)) && isService?.IsService(type) == true))
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
                        $"{description}: parameters '{messageParameter.Name}' and '{parameter.Name}' both look like the message: only one parameter can bind the message. If one is a service, register it in DI or mark it [FromServices].");
                }

                messageParameter = parameter;
                kind = !rawMessages ? MessageKind.Json
                    : type == typeof(string) ? MessageKind.Text
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

        Expression? instance = targetType is not null
            ? Expression.Convert(Expression.Field(context, nameof(HandlerContext.Target)), targetType)
            : target is not null ? Expression.Constant(target) : null;
        var call = instance is null ? Expression.Call(method, arguments) : Expression.Call(instance, method, arguments);
        var (body, resultType) = AdaptResult(call, method.ReturnType);
        return new BoundHandler
        {
            Invoke = Expression.Lambda<Func<HandlerContext, ValueTask<object?>>>(body, context).Compile(),
            Kind = kind,
            MessageType = messageType,
            MessageMayBeNull = messageMayBeNull,
            NeedsScope = needsScope,
            ResultType = resultType,
        };
    }

    private static bool IsRawMessageType(Type type)
        => type == typeof(string) || type == typeof(byte[]) || type == typeof(ReadOnlyMemory<byte>) || type == typeof(SocketMessage);

    private static bool IsFromServices(ParameterInfo parameter)
        => parameter.GetCustomAttributes(inherit: true).Any(static a => a is IFromServiceMetadata);

    /// <summary>Wraps the call so it yields a ValueTask of the result, whatever the handler returns.</summary>
    [RequiresUnreferencedCode(RequiresUnreferencedCodeMessage)]
    [RequiresDynamicCode(RequiresDynamicCodeMessage)]
    private static (Expression Body, Type ResultType) AdaptResult(Expression call, Type returnType)
    {
        if (returnType == typeof(void))
        {
            return (Expression.Block(call, Expression.Default(typeof(ValueTask<object?>))), typeof(void));
        }

        if (returnType == typeof(Task))
        {
            return (Expression.Call(Helper(nameof(AwaitTask)), call), typeof(void));
        }

        if (returnType == typeof(ValueTask))
        {
            return (Expression.Call(Helper(nameof(AwaitValueTask)), call), typeof(void));
        }

        if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(Task<>))
        {
            var t = returnType.GetGenericArguments()[0];
            return (Expression.Call(Helper(nameof(AwaitTaskOfT)).MakeGenericMethod(t), call), t);
        }

        if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(ValueTask<>))
        {
            var t = returnType.GetGenericArguments()[0];
            return (Expression.Call(Helper(nameof(AwaitValueTaskOfT)).MakeGenericMethod(t), call), t);
        }

        var result = Expression.New(typeof(ValueTask<object?>).GetConstructor([typeof(object)])!, Expression.Convert(call, typeof(object)));
        return (result, returnType);

        static MethodInfo Helper(string name) => typeof(HandlerBinder).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!;
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
}
