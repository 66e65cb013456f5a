using System.Diagnostics;
using System.Text;

namespace WebSockets.Internal;

/// <summary>
/// The library's traces: the <c>WebSockets</c> activity source, a span per handled message and one per cluster message
/// delivered from the backplane. Spans are created only when a listener samples them: without one,
/// <see cref="ActivitySource.HasListeners"/> is false and nothing is allocated.
/// </summary>
internal static class SocketTelemetry
{
    public const string ActivitySourceName = "WebSockets";

    /// <summary>The operation name of a handled message's span; its display name is <c>{namespace}/{event}</c>.</summary>
    public const string HandleMessageActivityName = "WebSockets.HandleMessage";

    /// <summary>The operation name of a delivered cluster message's span.</summary>
    public const string DeliverActivityName = "WebSockets.BackplaneDeliver";

    public const string ConnectionIdTag = "websockets.connection.id";
    public const string RequestIdTag = "websockets.request.id";
    public const string OperationTag = "websockets.backplane.operation";
    public const string RecipientsTag = "websockets.backplane.recipients";

    public static readonly ActivitySource Source = new(ActivitySourceName, typeof(SocketTelemetry).Assembly.GetName().Version?.ToString());

    /// <summary>
    /// Starts the span of one handled message, or returns null when nobody samples it. The span is a root: the upgrade
    /// request's span lasts as long as the connection, so it is linked instead of being the parent.
    /// </summary>
    public static SpanScope StartHandler(SocketConnection connection, string displayName, string? eventName, long? requestId)
    {
        if (!Source.HasListeners())
        {
            return default;
        }

        var upgrade = connection.UpgradeActivityContext;
        var previous = Activity.Current;
        Activity.Current = null; // a root, whatever flows on this thread
        var activity = Source.StartActivity(
            HandleMessageActivityName,
            ActivityKind.Server,
            parentContext: default,
            tags: null,
            links: upgrade == default ? null : [new ActivityLink(upgrade)]);
        if (activity is null)
        {
            Activity.Current = previous;
            return default;
        }

        activity.DisplayName = displayName;
        if (activity.IsAllDataRequested)
        {
            activity.SetTag(SocketMetrics.NamespaceTag, connection.Namespace);
            if (eventName is not null)
            {
                activity.SetTag(SocketMetrics.EventNameTag, eventName);
            }

            activity.SetTag(ConnectionIdTag, connection.Id);
            if (requestId is { } id)
            {
                activity.SetTag(RequestIdTag, id);
            }
        }

        return new SpanScope(activity, previous);
    }

    /// <summary>Marks a span as failed: status Error, <c>error.type</c>, and the exception as an event when there is one.</summary>
    public static void Fail(Activity? activity, string errorType, string? description, Exception? exception = null)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetStatus(ActivityStatusCode.Error, description);
        activity.SetTag(SocketMetrics.ErrorTypeTag, errorType);
        if (exception is not null)
        {
            activity.AddException(exception);
        }
    }

    /// <summary>
    /// Starts the span of a cluster message delivered from the backplane, as a child of the publisher's activity when the
    /// message carries its trace context; null when nobody samples it.
    /// </summary>
    public static SpanScope StartDeliver(in ClusterMessage.Decoded message)
    {
        if (!Source.HasListeners())
        {
            return default;
        }

        ActivityContext parent = default;
        if (!message.TraceParent.IsEmpty)
        {
            var traceState = message.TraceState.IsEmpty ? null : Encoding.UTF8.GetString(message.TraceState.Span);
            ActivityContext.TryParse(Encoding.UTF8.GetString(message.TraceParent.Span), traceState, isRemote: true, out parent);
        }

        var previous = Activity.Current;
        Activity.Current = null; // the publisher's context, or a root: never whatever the backplane's loop carries
        var activity = Source.StartActivity(DeliverActivityName, ActivityKind.Consumer, parent);
        if (activity is null)
        {
            Activity.Current = previous;
            return default;
        }

        if (activity.IsAllDataRequested)
        {
            activity.SetTag(OperationTag, OperationName(message.Operation));
            if (message.EventName is { } eventName)
            {
                activity.SetTag(SocketMetrics.EventNameTag, eventName);
            }
        }

        return new SpanScope(activity, previous);
    }

    private static string OperationName(ClusterMessage.Operation operation) => operation switch
    {
        ClusterMessage.Operation.Send => "send",
        ClusterMessage.Operation.Emit => "emit",
        ClusterMessage.Operation.Disconnect => "disconnect",
        _ => "unknown",
    };
}

/// <summary>
/// A span started by <see cref="SocketTelemetry"/>, or none. Disposing it stops the span and makes current again what was
/// current before, so the caller's context is unchanged even when the span was started in a synchronous method.
/// </summary>
internal readonly struct SpanScope(Activity? activity, Activity? previous) : IDisposable
{
    public Activity? Span => activity;

    public void Dispose()
    {
        if (activity is null)
        {
            return;
        }

        activity.Stop();
        Activity.Current = previous;
    }
}

/// <summary>
/// The telemetry of one handler run: its span (when sampled) and its duration (when listened to). Neither allocates
/// nor reads the clock when nobody listens. A mutable struct: keep it in one local, call <see cref="Fail"/> on errors and
/// <see cref="Stop"/> once.
/// </summary>
internal struct HandlerTelemetry
{
    private readonly SocketMetrics _metrics;
    private readonly string _namespace;
    private readonly string? _eventName;
    private readonly long _start;
    private readonly SpanScope _span;
    private string? _errorType;

    private HandlerTelemetry(SocketMetrics metrics, string ns, string? eventName, long start, SpanScope span)
    {
        _metrics = metrics;
        _namespace = ns;
        _eventName = eventName;
        _start = start;
        _span = span;
    }

    /// <param name="connection">The connection whose message is handled.</param>
    /// <param name="spanName">The span's display name: <c>{namespace}/{event}</c>, <c>{namespace}/(message)</c> or <c>{namespace}/(binary)</c>.</param>
    /// <param name="eventName">The event, or null for raw handlers and binary frames.</param>
    /// <param name="requestId">The request ID when the client awaits a reply.</param>
    public static HandlerTelemetry Start(SocketConnection connection, string spanName, string? eventName, long? requestId)
    {
        var metrics = connection.Metrics;
        return new HandlerTelemetry(metrics, connection.Namespace, eventName, metrics.StartHandler(), SocketTelemetry.StartHandler(connection, spanName, eventName, requestId));
    }

    /// <summary>Records that the handling failed: the duration gets <c>error.type</c>, the span status Error.</summary>
    public void Fail(string errorType, string? description, Exception? exception = null)
    {
        _errorType = errorType;
        SocketTelemetry.Fail(_span.Span, errorType, description, exception);
    }

    public readonly void Stop()
    {
        _metrics?.HandlerCompleted(_namespace, _eventName, _start, _errorType);
        _span.Dispose();
    }
}
