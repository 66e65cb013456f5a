using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace WebSockets.Client;

/// <summary>
/// Reports a named WebSocket service as healthy while its client is connected, and with the registration's failure
/// status (unhealthy by default) otherwise. Register it with the service name as argument:
/// <c>services.AddHealthChecks().AddTypeActivatedCheck&lt;WebSocketServiceHealthCheck&gt;("notifications", "notifications")</c>.
/// </summary>
public sealed class WebSocketServiceHealthCheck : IHealthCheck
{
    private readonly IWebSocketServices _services;
    private readonly string _name;

    /// <summary>Creates a health check for one service.</summary>
    /// <param name="services">The registered services.</param>
    /// <param name="name">The service name given to <c>AddWebSocketService</c>.</param>
    public WebSocketServiceHealthCheck(IWebSocketServices services, string name)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        _services = services;
        _name = name;
    }

    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var client = _services.GetClient(_name);
        var state = client.State;
        var data = new Dictionary<string, object>
        {
            ["uri"] = client.Uri.ToString(),
            ["state"] = state.ToString(),
            ["outbox"] = client.OutboxCount,
        };
        var result = state == SocketClientState.Connected
            ? HealthCheckResult.Healthy($"WebSocket service '{_name}' is connected.", data)
            : new HealthCheckResult(context.Registration.FailureStatus, $"WebSocket service '{_name}' is not connected ({state}).", data: data);
        return Task.FromResult(result);
    }
}
