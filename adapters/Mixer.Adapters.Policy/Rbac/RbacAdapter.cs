using Mixer.Sdk.Adapters;
using Microsoft.Extensions.Logging;

namespace Mixer.Adapters.Policy;

/// <summary>
/// The <c>rbac</c> adapter (Istio 1.0 <c>adapter.rbac.config.Params</c>): role-based access
/// control on the <c>authorization</c> template with Istio's <c>rbac.istio.io/v1alpha1</c>
/// ServiceRole and ServiceRoleBinding. The runtime hands the roles and bindings in through the
/// params (<c>serviceRoles</c>, <c>serviceRoleBindings</c>: <c>{namespace, name, spec}</c>); the
/// adapter reads no config store itself (<c>configStoreUrl</c> is accepted and ignored). A request
/// is allowed when, in the action's namespace, a role has a rule matching the service, path,
/// method and constraints, and a binding to that role has a subject matching the caller.
/// Otherwise it is PERMISSION_DENIED. Answers hold for <c>cacheDuration</c> (60s).
/// </summary>
public sealed class RbacAdapter : Adapter<RbacParams>
{
    /// <inheritdoc/>
    public override AdapterInfo Info { get; } = new("rbac", "Role Based Access Control for Istio services", ["authorization"]);

    /// <inheritdoc/>
    protected override void Validate(RbacParams p, ICollection<ConfigProblem> problems)
    {
        if (p.CacheDuration < TimeSpan.Zero)
        {
            problems.Add(new ConfigProblem("cacheDuration", "must be >= 0"));
        }

        RbacPolicy.Build(p, problems);
    }

    /// <inheritdoc/>
    protected override ValueTask<IHandler> BuildAsync(RbacParams p, HandlerContext context, CancellationToken cancellationToken)
    {
        var problems = new List<ConfigProblem>();
        var policy = RbacPolicy.Build(p, problems);
        if (problems.Count > 0)
        {
            throw new ArgumentException("invalid rbac config: " + string.Join("; ", problems.Select(x => $"{x.Field}: {x.Reason}")), nameof(context));
        }

        RbacLog.Built(context.Logger, context.HandlerName, p.ServiceRoles.Count, p.ServiceRoleBindings.Count);
        return ValueTask.FromResult<IHandler>(new RbacHandler(policy, p.CacheDuration, context.Logger));
    }
}

public sealed class RbacParams
{
    public string ConfigStoreUrl { get; set; } = string.Empty;

    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromSeconds(60);

    public List<RbacResource<ServiceRoleSpec>> ServiceRoles { get; set; } = [];

    public List<RbacResource<ServiceRoleBindingSpec>> ServiceRoleBindings { get; set; } = [];
}

public sealed class RbacResource<TSpec>
    where TSpec : new()
{
    public string Namespace { get; set; } = string.Empty;

    public string Name { get; set; } = string.Empty;

    public TSpec Spec { get; set; } = new();
}

/// <summary>rbac.istio.io/v1alpha1 ServiceRole.</summary>
public sealed class ServiceRoleSpec
{
    public List<AccessRule> Rules { get; set; } = [];
}

public sealed class AccessRule
{
    public List<string> Services { get; set; } = [];

    public List<string> Paths { get; set; } = [];

    public List<string> Methods { get; set; } = [];

    public List<AccessConstraint> Constraints { get; set; } = [];
}

public sealed class AccessConstraint
{
    public string Key { get; set; } = string.Empty;

    public List<string> Values { get; set; } = [];
}

/// <summary>rbac.istio.io/v1alpha1 ServiceRoleBinding.</summary>
public sealed class ServiceRoleBindingSpec
{
    public List<RbacSubject> Subjects { get; set; } = [];

    public RoleRef RoleRef { get; set; } = new();

    /// <summary>ENFORCED (default) or PERMISSIVE; a permissive binding is evaluated but grants nothing.</summary>
    public string Mode { get; set; } = string.Empty;
}

public sealed class RbacSubject
{
    public string User { get; set; } = string.Empty;

    public string Group { get; set; } = string.Empty;

    public Dictionary<string, string> Properties { get; set; } = [];
}

public sealed class RoleRef
{
    public string Kind { get; set; } = string.Empty;

    public string Name { get; set; } = string.Empty;
}

internal static partial class RbacLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "rbac handler {Handler} built with {Roles} roles and {Bindings} bindings")]
    public static partial void Built(ILogger logger, string handler, int roles, int bindings);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "rbac: denied {User} {Method} {Service}{Path} in {Namespace}: {Reason}")]
    public static partial void Denied(ILogger logger, string user, string method, string service, string path, string @namespace, string reason);
}
