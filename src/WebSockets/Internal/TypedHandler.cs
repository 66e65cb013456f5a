using System.Reflection;
using System.Text.Json.Serialization.Metadata;

namespace WebSockets.Internal;

/// <summary>
/// Binds handlers whose signature is known at compile time (<c>On&lt;TData&gt;</c>, <c>On&lt;TData, TReply&gt;</c> and the
/// built-in events) without reflection or generated code: trim- and Native AOT-safe.
/// </summary>
internal static class TypedHandler
{
    /// <summary>The event's data binds to <typeparamref name="TData"/>; the handler returns no reply data.</summary>
    public static BoundHandler Create<TData>(Func<ISocketConnection, TData, CancellationToken, Task> handler, JsonTypeInfo? dataTypeInfo = null) => new()
    {
        Invoke = context => AwaitAsync(handler(context.Connection, (TData)context.Message!, context.Token)),
        Kind = MessageKind.Json,
        MessageType = typeof(TData),
        MessageMayBeNull = DataMayBeNull<TData>(handler.Method),
        MessageTypeInfo = dataTypeInfo,
        ResultType = typeof(void),
    };

    /// <summary>The request's data binds to <typeparamref name="TData"/>; the awaited result is the reply's data.</summary>
    public static BoundHandler Create<TData, TReply>(
        Func<ISocketConnection, TData, CancellationToken, Task<TReply>> handler, JsonTypeInfo? dataTypeInfo = null, JsonTypeInfo? replyTypeInfo = null) => new()
    {
        Invoke = context => AwaitAsync(handler(context.Connection, (TData)context.Message!, context.Token)),
        Kind = MessageKind.Json,
        MessageType = typeof(TData),
        MessageMayBeNull = DataMayBeNull<TData>(handler.Method),
        MessageTypeInfo = dataTypeInfo,
        ResultType = typeof(TReply),
        ResultTypeInfo = replyTypeInfo,
    };

    private static async ValueTask<object?> AwaitAsync(Task task)
    {
        await task;
        return null;
    }

    private static async ValueTask<object?> AwaitAsync<T>(Task<T> task) => await task;

    /// <summary>
    /// Whether JSON <c>null</c> may reach the data parameter: for value types, when it is a <see cref="Nullable{T}"/>; for
    /// reference types, when the parameter is annotated nullable (<c>TData?</c>). Trimmed apps drop nullability metadata
    /// unless <c>NullabilityInfoContextSupport</c> is on; without it, null data is refused, as for a non-nullable one.
    /// </summary>
    private static bool DataMayBeNull<TData>(MethodInfo method)
    {
        if (typeof(TData).IsValueType)
        {
            return Nullable.GetUnderlyingType(typeof(TData)) is not null;
        }

        if (AppContext.TryGetSwitch("System.Reflection.NullabilityInfoContext.IsSupported", out var supported) && !supported)
        {
            return false;
        }

        // The data is the delegate's second of three parameters; a delegate closed over its first argument has one more.
        var parameters = method.GetParameters();
        return parameters.Length >= 2
            && new NullabilityInfoContext().Create(parameters[^2]).WriteState == NullabilityState.Nullable;
    }
}
