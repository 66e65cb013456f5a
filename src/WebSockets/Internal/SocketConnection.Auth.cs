using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace WebSockets.Internal;

/// <summary>
/// Authentication over a connection's life: closing it when its authentication expires, and the in-band
/// <c>$auth</c> token refresh that pushes the expiry back without reconnecting.
/// </summary>
internal sealed partial class SocketConnection
{
    /// <summary>The longest token a <c>$auth</c> request may carry.</summary>
    internal const int MaxTokenLength = 16 * 1024;

    private readonly Lock _expiryLock = new();
    private ITimer? _expiryTimer;
    private DateTimeOffset? _expiresAt;
    private bool _expiryStopped;

    /// <summary>When the upgrade request's authentication expires, if it does (set at the handshake).</summary>
    internal DateTimeOffset? AuthenticationExpiresAt
    {
        get
        {
            lock (_expiryLock)
            {
                return _expiresAt;
            }
        }

        init => _expiresAt = value;
    }

    private static IQueryCollection WithoutAccessToken(IQueryCollection query)
    {
        if (!query.ContainsKey(WebSocketHttpContextExtensions.AccessTokenQueryParameter))
        {
            return query;
        }

        var copy = new Dictionary<string, StringValues>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in query)
        {
            if (!string.Equals(key, WebSocketHttpContextExtensions.AccessTokenQueryParameter, StringComparison.OrdinalIgnoreCase))
            {
                copy[key] = value;
            }
        }

        return new QueryCollection(copy);
    }

    private void StartAuthenticationExpiry()
    {
        lock (_expiryLock)
        {
            ScheduleExpiry();
        }
    }

    private async ValueTask StopAuthenticationExpiryAsync()
    {
        ITimer? timer;
        lock (_expiryLock)
        {
            _expiryStopped = true;
            timer = _expiryTimer;
            _expiryTimer = null;
        }

        if (timer is not null)
        {
            await timer.DisposeAsync();
        }
    }

    /// <summary>Arms (or re-arms) the expiry timer for <see cref="_expiresAt"/>. Runs under the lock.</summary>
    private void ScheduleExpiry()
    {
        if (_expiryStopped || !_endpoint.CloseOnAuthenticationExpiration)
        {
            return;
        }

        if (_expiresAt is not { } expiresAt)
        {
            _expiryTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }

        var due = expiresAt - _timeProvider.GetUtcNow();
        if (due < TimeSpan.Zero)
        {
            due = TimeSpan.Zero;
        }

        if (_expiryTimer is null)
        {
            _expiryTimer = _timeProvider.CreateTimer(static s => ((SocketConnection)s!).OnExpiryTimer(), this, due, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _expiryTimer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnExpiryTimer()
    {
        DateTimeOffset expiredAt;
        lock (_expiryLock)
        {
            if (_expiryStopped || _expiresAt is not { } expiresAt)
            {
                return;
            }

            if (expiresAt > _timeProvider.GetUtcNow())
            {
                // A refresh moved the expiry while this callback was on its way.
                ScheduleExpiry();
                return;
            }

            expiredAt = expiresAt;
        }

        Log.AuthenticationExpired(_logger, Id, expiredAt);
        RequestClose(WebSocketCloseStatus.PolicyViolation, "Authentication expired.", DisconnectReason.AuthenticationExpired, drain: true);
    }

    /// <summary>
    /// Handles <c>$auth</c>: authenticates the new token with the endpoint's scheme, checks that it names the same user,
    /// then takes its principal and its expiry. Refusals throw <see cref="SocketRequestException"/>, which the
    /// dispatcher turns into an error reply; the connection stays as it was.
    /// </summary>
    internal async Task RefreshAuthenticationAsync(JsonElement data, CancellationToken cancellationToken)
    {
        if (data.ValueKind != JsonValueKind.Object
            || !data.TryGetProperty("token", out var tokenElement)
            || tokenElement.ValueKind != JsonValueKind.String
            || tokenElement.GetString() is not { Length: > 0 and <= MaxTokenLength } token)
        {
            throw new SocketRequestException(ErrorNotice.BadData, $"The data must be {{\"token\":\"…\"}} with a token of 1 to {MaxTokenLength} characters.");
        }

        if (UserId is not { } userId || User.Identity?.IsAuthenticated != true)
        {
            throw new SocketRequestException(ErrorNotice.Forbidden, "Only a connection whose user was authenticated, with a user ID, can refresh its token.");
        }

        var services = _registry.Services;
        if (services.GetService<IAuthenticationService>() is null)
        {
            throw new SocketRequestException(ErrorNotice.Unauthorized, "The server has no authentication to check the token with.");
        }

        await using var scope = services.CreateAsyncScope();
        var request = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        request.Request.Headers.Authorization = "Bearer " + token;
        var result = await request.AuthenticateAsync(_endpoint.TokenRefreshScheme);
        if (!result.Succeeded || result.Principal is not { } principal)
        {
            // The failure's details stay in the authentication handler's own log: they can describe the token.
            Log.TokenRefreshRefused(_logger, Id);
            throw new SocketRequestException(ErrorNotice.Unauthorized, "The token was not accepted.");
        }

        request.User = principal;
        if (!string.Equals(_registry.GetUserId(request), userId, StringComparison.Ordinal))
        {
            Log.TokenRefreshRefused(_logger, Id);
            throw new SocketRequestException(ErrorNotice.Forbidden, "The token is for another user: a refresh cannot change the connection's user.");
        }

        Volatile.Write(ref _user, principal);
        lock (_expiryLock)
        {
            _expiresAt = result.Properties?.ExpiresUtc;
            ScheduleExpiry();
        }

        Log.TokenRefreshed(_logger, Id, result.Properties?.ExpiresUtc);
    }
}
