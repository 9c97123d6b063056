using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;

namespace Mixer.Adapters.Policy;

/// <summary>Roles with their bindings, by namespace: what a check is decided against. Immutable.</summary>
internal sealed class RbacPolicy
{
    private readonly Dictionary<string, List<Role>> _byNamespace;

    private RbacPolicy(Dictionary<string, List<Role>> byNamespace) => _byNamespace = byNamespace;

    /// <summary>Builds the policy, adding a problem for each role or binding that cannot take part.</summary>
    public static RbacPolicy Build(RbacParams p, ICollection<ConfigProblem> problems)
    {
        var roles = new Dictionary<(string Ns, string Name), Role>();
        for (var i = 0; i < p.ServiceRoles.Count; i++)
        {
            var r = p.ServiceRoles[i];
            var at = $"serviceRoles[{i}]";
            var ok = Require(r.Namespace, $"{at}.namespace", problems) & Require(r.Name, $"{at}.name", problems);
            for (var j = 0; j < r.Spec.Rules.Count; j++)
            {
                var rule = r.Spec.Rules[j];
                if (rule.Services.Count == 0)
                {
                    problems.Add(new ConfigProblem($"{at}.spec.rules[{j}].services", "must list at least one service (\"*\" for all)"));
                    ok = false;
                }

                if (rule.Methods.Count == 0)
                {
                    problems.Add(new ConfigProblem($"{at}.spec.rules[{j}].methods", "must list at least one method (\"*\" for all)"));
                    ok = false;
                }

                for (var k = 0; k < rule.Constraints.Count; k++)
                {
                    var c = rule.Constraints[k];
                    if (string.IsNullOrEmpty(c.Key))
                    {
                        problems.Add(new ConfigProblem($"{at}.spec.rules[{j}].constraints[{k}].key", "must not be empty"));
                        ok = false;
                    }

                    if (c.Values.Count == 0)
                    {
                        problems.Add(new ConfigProblem($"{at}.spec.rules[{j}].constraints[{k}].values", "must list at least one value"));
                        ok = false;
                    }
                }
            }

            if (ok && !roles.TryAdd((r.Namespace, r.Name), new Role(r.Name, r.Spec.Rules)))
            {
                problems.Add(new ConfigProblem($"{at}.name", $"duplicate ServiceRole {r.Name} in namespace {r.Namespace}"));
            }
        }

        var bindingNames = new HashSet<(string, string)>();
        for (var i = 0; i < p.ServiceRoleBindings.Count; i++)
        {
            var b = p.ServiceRoleBindings[i];
            var at = $"serviceRoleBindings[{i}]";
            var ok = Require(b.Namespace, $"{at}.namespace", problems) & Require(b.Name, $"{at}.name", problems);
            if (ok && !bindingNames.Add((b.Namespace, b.Name)))
            {
                problems.Add(new ConfigProblem($"{at}.name", $"duplicate ServiceRoleBinding {b.Name} in namespace {b.Namespace}"));
                ok = false;
            }

            if (!string.Equals(b.Spec.RoleRef.Kind, "ServiceRole", StringComparison.Ordinal))
            {
                problems.Add(new ConfigProblem($"{at}.spec.roleRef.kind", $"must be ServiceRole, not '{b.Spec.RoleRef.Kind}'"));
                ok = false;
            }

            Role? role = null;
            if (string.IsNullOrEmpty(b.Spec.RoleRef.Name))
            {
                problems.Add(new ConfigProblem($"{at}.spec.roleRef.name", "must name a ServiceRole"));
                ok = false;
            }
            else if (!roles.TryGetValue((b.Namespace, b.Spec.RoleRef.Name), out role))
            {
                problems.Add(new ConfigProblem($"{at}.spec.roleRef.name", $"no ServiceRole {b.Spec.RoleRef.Name} in namespace {b.Namespace}"));
                ok = false;
            }

            if (b.Spec.Subjects.Count == 0)
            {
                problems.Add(new ConfigProblem($"{at}.spec.subjects", "must list at least one subject"));
                ok = false;
            }

            for (var j = 0; j < b.Spec.Subjects.Count; j++)
            {
                var s = b.Spec.Subjects[j];
                if (s.User.Length == 0 && s.Group.Length == 0 && s.Properties.Count == 0)
                {
                    problems.Add(new ConfigProblem($"{at}.spec.subjects[{j}]", "must set user, group or properties"));
                    ok = false;
                }
            }

            if (b.Spec.Mode is not ("" or "ENFORCED" or "PERMISSIVE"))
            {
                problems.Add(new ConfigProblem($"{at}.spec.mode", $"must be ENFORCED or PERMISSIVE, not '{b.Spec.Mode}'"));
                ok = false;
            }

            if (ok && b.Spec.Mode != "PERMISSIVE")
            {
                role!.Subjects.AddRange(b.Spec.Subjects);
            }
        }

        var byNamespace = roles.GroupBy(r => r.Key.Ns, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(r => r.Value).ToList(), StringComparer.Ordinal);
        return new RbacPolicy(byNamespace);
    }

    /// <summary>Null when allowed, else why not.</summary>
    public string? Deny(AuthorizationInstance inst)
    {
        var a = inst.Action;
        if (a.Namespace.Length == 0 || a.Service.Length == 0 || a.Path.Length == 0 || a.Method.Length == 0)
        {
            return "the action lacks a namespace, service, path or method";
        }

        if (!_byNamespace.TryGetValue(a.Namespace, out var roles))
        {
            return "no ServiceRole in the namespace";
        }

        foreach (var role in roles)
        {
            if (role.Rules.Any(r => Matches(r, a)) && role.Subjects.Any(s => Matches(s, inst.Subject)))
            {
                return null;
            }
        }

        return "no role grants the action to the subject";
    }

    private static bool Require(string value, string field, ICollection<ConfigProblem> problems)
    {
        if (!string.IsNullOrEmpty(value))
        {
            return true;
        }

        problems.Add(new ConfigProblem(field, "must not be empty"));
        return false;
    }

    private static bool Matches(AccessRule rule, AuthorizationAction a) =>
        AnyMatch(a.Service, rule.Services)
        && (rule.Paths.Count == 0 || AnyMatch(a.Path, rule.Paths))
        && AnyMatch(a.Method, rule.Methods)
        && rule.Constraints.All(c => a.Properties.TryGetValue(c.Key, out var v) && AnyMatch(Text(v), c.Values));

    // Every field the subject sets must match (Istio 1.0 let a matching user or group win even
    // when the subject's properties did not match; we require all of them).
    private static bool Matches(RbacSubject s, AuthorizationSubject caller) =>
        (s.User.Length == 0 || s.User == "*" || s.User == caller.User)
        && (s.Group.Length == 0 || s.Group == "*" || s.Group == caller.Groups)
        && s.Properties.All(p => caller.Properties.TryGetValue(p.Key, out var v) && Text(v) == p.Value);

    /// <summary>Istio's string match: exact, "*", "prefix*" or "*suffix".</summary>
    private static bool AnyMatch(string value, List<string> patterns)
    {
        foreach (var p in patterns)
        {
            if (p == "*" || p == value
                || (p.EndsWith('*') && value.StartsWith(p[..^1], StringComparison.Ordinal))
                || (p.StartsWith('*') && value.EndsWith(p[1..], StringComparison.Ordinal)))
            {
                return true;
            }
        }

        return false;
    }

    private static string Text(AttributeValue v) => v.Type.IsStringLike() ? v.AsString : v.ToString();

    private sealed class Role(string name, List<AccessRule> rules)
    {
        public string Name { get; } = name;

        public List<AccessRule> Rules { get; } = rules;

        public List<RbacSubject> Subjects { get; } = [];
    }
}
