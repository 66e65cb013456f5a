using System.Reflection;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;

namespace WebSockets.Internal;

/// <summary>
/// Per-event authorization: <c>[Authorize]</c> on a controller, on one of its methods, or on an event handler
/// lambda, checked against the connection's user before each message runs. <c>[AllowAnonymous]</c> on a method
/// lifts its controller's requirement.
/// </summary>
internal static class EventAuthorization
{
    /// <summary>The authorization data of a handler, or null when anyone may send the event.</summary>
    public static IAuthorizeData[]? Find(MethodInfo method, Type? controllerType)
    {
        var onMethod = method.GetCustomAttributes(inherit: true);
        if (onMethod.OfType<IAllowAnonymous>().Any())
        {
            return null;
        }

        var onController = controllerType?.GetCustomAttributes(inherit: true) ?? [];
        var methodData = onMethod.OfType<IAuthorizeData>().ToArray();
        if (methodData.Length == 0 && onController.OfType<IAllowAnonymous>().Any())
        {
            return null;
        }

        IAuthorizeData[] data = [.. onController.OfType<IAuthorizeData>(), .. methodData];
        return data.Length == 0 ? null : data;
    }

    /// <summary>Fails at start-up, with the fix, when an event asks for authorization that the app did not add.</summary>
    public static void EnsureAvailable(IServiceProvider services, string source)
    {
        if (services.GetService<IAuthorizationPolicyProvider>() is null)
        {
            throw new InvalidOperationException(
                $"{source} has [Authorize], but authorization services are not registered. Call 'builder.Services.AddAuthorization()'.");
        }
    }

    /// <summary>Whether the connection's current user meets the combined policy. The connection is the resource.</summary>
    public static async ValueTask<bool> IsAuthorizedAsync(IServiceProvider services, ISocketConnection connection, IAuthorizeData[] data)
    {
        var policyProvider = services.GetRequiredService<IAuthorizationPolicyProvider>();
        var policy = await AuthorizationPolicy.CombineAsync(policyProvider, data);
        if (policy is null)
        {
            return true;
        }

        var authorization = services.GetRequiredService<IAuthorizationService>();
        var result = await authorization.AuthorizeAsync(connection.User, connection, policy);
        return result.Succeeded;
    }
}
