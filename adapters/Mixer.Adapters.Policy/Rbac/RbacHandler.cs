using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Microsoft.Extensions.Logging;

namespace Mixer.Adapters.Policy;

internal sealed class RbacHandler(RbacPolicy policy, TimeSpan cacheDuration, ILogger logger) : IAuthorizationHandler
{
    // Istio's rbac answers are good for a billion uses within cacheDuration.
    private const int UseCount = 1_000_000_000;

    public ValueTask<CheckResult> HandleAuthorizationAsync(AuthorizationInstance instance, CancellationToken cancellationToken)
    {
        var why = policy.Deny(instance);
        if (why is null)
        {
            return ValueTask.FromResult(CheckResult.Ok(cacheDuration, UseCount));
        }

        var a = instance.Action;
        RbacLog.Denied(logger, instance.Subject.User, a.Method, a.Service, a.Path, a.Namespace, why);
        return ValueTask.FromResult(CheckResult.Deny(StatusCodes.PermissionDenied, "RBAC: permission denied.", cacheDuration, UseCount));
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
