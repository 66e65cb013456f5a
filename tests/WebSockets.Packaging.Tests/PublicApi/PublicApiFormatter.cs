using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;

namespace WebSockets.Packaging.Tests.PublicApi;

/// <summary>
/// Writes an assembly's public surface, one line per type and member, in the spirit of the PublicApiAnalyzers'
/// PublicAPI.Shipped.txt: fully qualified, C# keywords, nullable reference types marked <c>?</c> (type parameters are
/// written bare: their annotations don't read back reliably), parameter names and
/// default values, <c>-&gt; ReturnType</c> at the end. Lines sort ordinally by the qualified name, so a type's members
/// follow it. Protected members of unsealed public types count: derived classes see them.
/// </summary>
/// <remarks>
/// Modifiers that matter to callers lead the line: <c>static</c>, <c>abstract</c>, <c>virtual</c>, <c>override</c>,
/// <c>protected</c>, <c>const</c>, <c>event</c>, and the attributes <c>[Obsolete]</c>, <c>[RequiresUnreferencedCode]</c>
/// and <c>[RequiresDynamicCode]</c>. Members the compiler generates (a record's equality, <c>Deconstruct</c>, …) are left
/// out; the record itself says it is one.
/// </remarks>
internal static class PublicApiFormatter
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Dictionary<Type, string> s_keywords = new()
    {
        [typeof(void)] = "void",
        [typeof(object)] = "object",
        [typeof(string)] = "string",
        [typeof(bool)] = "bool",
        [typeof(byte)] = "byte",
        [typeof(sbyte)] = "sbyte",
        [typeof(char)] = "char",
        [typeof(short)] = "short",
        [typeof(ushort)] = "ushort",
        [typeof(int)] = "int",
        [typeof(uint)] = "uint",
        [typeof(long)] = "long",
        [typeof(ulong)] = "ulong",
        [typeof(float)] = "float",
        [typeof(double)] = "double",
        [typeof(decimal)] = "decimal",
        [typeof(nint)] = "nint",
        [typeof(nuint)] = "nuint",
    };

    public static IReadOnlyList<string> Format(Assembly assembly)
    {
        var lines = new List<(string Key, string Line)>();
        foreach (var type in assembly.GetExportedTypes())
        {
            lines.Add(TypeLine(type));
            if (type.IsSubclassOf(typeof(Delegate)))
            {
                continue;
            }

            foreach (var member in type.GetMembers(Declared))
            {
                if (IsVisible(member, type) && MemberLine(type, member) is { } line)
                {
                    lines.Add(line);
                }
            }
        }

        return [.. lines
            .SelectMany(static l => l.Line.Split('\n').Select(line => (l.Key, Line: line)))
            .OrderBy(static l => l.Key, StringComparer.Ordinal)
            .ThenBy(static l => l.Line, StringComparer.Ordinal)
            .Select(static l => l.Line)
            .Distinct()];
    }

    private static (string Key, string Line) TypeLine(Type type)
    {
        var name = TypeName(type, nullability: null, declaration: true);
        string kind;
        if (type.IsSubclassOf(typeof(Delegate)))
        {
            var invoke = type.GetMethod("Invoke")!;
            return (name, $"{Attributes(type)}delegate {name}({Parameters(invoke)}) -> {ReturnType(invoke)}");
        }

        if (type.IsEnum)
        {
            kind = $"enum {name} : {TypeName(Enum.GetUnderlyingType(type))}";
            return (name, Attributes(type) + kind + (type.IsDefined(typeof(FlagsAttribute)) ? " [Flags]" : string.Empty));
        }

        var modifiers = new StringBuilder();
        if (type.IsInterface)
        {
            kind = "interface";
        }
        else if (type.IsValueType)
        {
            kind = (type.IsDefined(typeof(IsReadOnlyAttribute)) ? "readonly " : string.Empty) + "struct";
        }
        else
        {
            if (type.IsAbstract && type.IsSealed)
            {
                modifiers.Append("static ");
            }
            else if (type.IsAbstract)
            {
                modifiers.Append("abstract ");
            }
            else if (type.IsSealed)
            {
                modifiers.Append("sealed ");
            }

            kind = type.GetMethod("<Clone>$", BindingFlags.Public | BindingFlags.Instance) is not null ? "record class" : "class";
        }

        var bases = new List<string>();
        if (type.BaseType is { } baseType && baseType != typeof(object) && baseType != typeof(ValueType))
        {
            bases.Add(TypeName(baseType));
        }

        var inherited = type.BaseType?.GetInterfaces() ?? [];
        bases.AddRange(type.GetInterfaces()
            .Where(i => !inherited.Contains(i) && (i.IsPublic || i.IsNestedPublic))
            .Select(static i => TypeName(i))
            .Order(StringComparer.Ordinal));
        var line = $"{Attributes(type)}{modifiers}{kind} {name}{(bases.Count > 0 ? " : " + string.Join(", ", bases) : string.Empty)}{Constraints(type.IsGenericTypeDefinition ? type.GetGenericArguments() : [])}";
        return (name, line);
    }

    private static bool IsVisible(MemberInfo member, Type type)
    {
        if (member.IsDefined(typeof(CompilerGeneratedAttribute)) || member is Type)
        {
            return false; // nested types are listed as types
        }

        bool Visible(MethodBase? m) => m is not null && (m.IsPublic || ((m.IsFamily || m.IsFamilyOrAssembly) && !type.IsSealed));
        return member switch
        {
            MethodBase method => !method.IsSpecialName || method is ConstructorInfo || method.Name.StartsWith("op_", StringComparison.Ordinal)
                ? Visible(method)
                : false,
            PropertyInfo property => Visible(property.GetMethod) || Visible(property.SetMethod),
            EventInfo @event => Visible(@event.AddMethod),
            FieldInfo field => !field.IsSpecialName && (field.IsPublic || ((field.IsFamily || field.IsFamilyOrAssembly) && !type.IsSealed)),
            _ => false,
        };
    }

    private static (string Key, string Line)? MemberLine(Type type, MemberInfo member)
    {
        var owner = TypeName(type, nullability: null, declaration: true);
        var context = new NullabilityInfoContext();
        switch (member)
        {
            case ConstructorInfo constructor:
            {
                if (constructor.IsStatic)
                {
                    return null;
                }

                var simpleName = type.Name.Split('`')[0];
                var key = $"{owner}.{simpleName}({Parameters(constructor)})";
                return (key, $"{Attributes(constructor)}{Access(constructor)}{key} -> void");
            }

            case MethodInfo method:
            {
                var generic = method.IsGenericMethodDefinition ? $"<{string.Join(", ", method.GetGenericArguments().Select(static a => a.Name))}>" : string.Empty;
                var key = $"{owner}.{method.Name}{generic}({Parameters(method)})";
                var line = $"{Attributes(method)}{Access(method)}{Modifiers(method, type)}{key} -> {ReturnType(method)}{Constraints(method.IsGenericMethodDefinition ? method.GetGenericArguments() : [])}";
                return (key, line);
            }

            case PropertyInfo property:
            {
                var indexParameters = property.GetIndexParameters();
                var name = indexParameters.Length > 0 ? $"this[{Parameters(property.GetMethod ?? property.SetMethod!)}]" : property.Name;
                var accessors = new List<string>();
                var info = context.Create(property);
                if (property.GetMethod is { } getter && (getter.IsPublic || getter.IsFamily || getter.IsFamilyOrAssembly))
                {
                    accessors.Add($"{Access(getter)}{Modifiers(getter, type)}{owner}.{name}.get -> {TypeName(property.PropertyType, info)}");
                }

                if (property.SetMethod is { } setter && (setter.IsPublic || setter.IsFamily || setter.IsFamilyOrAssembly))
                {
                    var init = setter.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(IsExternalInit)) ? "init" : "set";
                    accessors.Add($"{Access(setter)}{Modifiers(setter, type)}{owner}.{name}.{init} -> void");
                }

                // One line per accessor, like PublicAPI.Shipped.txt; the attributes of the property lead each.
                var attributes = Attributes(property);
                return accessors.Count == 0 ? null : ($"{owner}.{name}", string.Join("\n", accessors.Select(a => attributes + a)));
            }

            case FieldInfo field:
            {
                var key = $"{owner}.{field.Name}";
                if (type.IsEnum)
                {
                    var value = Convert.ToInt64(field.GetRawConstantValue(), CultureInfo.InvariantCulture);
                    return (key, $"{key} = {value.ToString(CultureInfo.InvariantCulture)} -> {owner}");
                }

                var fieldType = TypeName(field.FieldType, context.Create(field));
                if (field.IsLiteral)
                {
                    return (key, $"{Attributes(field)}{Access(field)}const {key} = {Literal(field.GetRawConstantValue(), field.FieldType)} -> {fieldType}");
                }

                var modifiers = (field.IsStatic ? "static " : string.Empty) + (field.IsInitOnly ? "readonly " : string.Empty);
                return (key, $"{Attributes(field)}{Access(field)}{modifiers}{key} -> {fieldType}");
            }

            case EventInfo @event:
            {
                var key = $"{owner}.{@event.Name}";
                return (key, $"{Attributes(@event)}{Access(@event.AddMethod!)}{Modifiers(@event.AddMethod!, type)}event {key} -> {TypeName(@event.EventHandlerType!, context.Create(@event))}");
            }

            default:
                return null;
        }
    }

    private static string Access(MemberInfo member) => member switch
    {
        MethodBase m when m.IsFamily || m.IsFamilyOrAssembly => "protected ",
        FieldInfo f when f.IsFamily || f.IsFamilyOrAssembly => "protected ",
        _ => string.Empty,
    };

    private static string Modifiers(MethodInfo method, Type type)
    {
        if (method.IsStatic)
        {
            return method.IsAbstract ? "static abstract " : "static ";
        }

        if (type.IsInterface)
        {
            return method.IsAbstract ? string.Empty : "virtual "; // default interface members
        }

        if (method.IsAbstract)
        {
            return method.GetBaseDefinition() != method ? "abstract override " : "abstract ";
        }

        if (method.GetBaseDefinition().DeclaringType != method.DeclaringType)
        {
            return method.IsFinal ? "sealed override " : "override ";
        }

        return method.IsVirtual && !method.IsFinal ? "virtual " : string.Empty;
    }

    private static string Attributes(MemberInfo member)
    {
        var names = new List<string>();
        foreach (var data in member.GetCustomAttributesData())
        {
            var attribute = data.AttributeType;
            if (attribute == typeof(ObsoleteAttribute) || attribute == typeof(RequiresUnreferencedCodeAttribute) || attribute == typeof(RequiresDynamicCodeAttribute)
                || attribute == typeof(ExperimentalAttribute))
            {
                names.Add($"[{attribute.Name[..^"Attribute".Length]}]");
            }
        }

        names.Sort(StringComparer.Ordinal);
        return names.Count == 0 ? string.Empty : string.Join(" ", names) + " ";
    }

    private static string ReturnType(MethodInfo method)
        => TypeName(method.ReturnType, method.ReturnType == typeof(void) ? null : new NullabilityInfoContext().Create(method.ReturnParameter));

    private static string Parameters(MethodBase method)
    {
        var context = new NullabilityInfoContext();
        var isExtension = method.IsDefined(typeof(ExtensionAttribute));
        return string.Join(", ", method.GetParameters().Select((p, i) =>
        {
            var text = new StringBuilder();
            if (i == 0 && isExtension)
            {
                text.Append("this ");
            }

            var type = p.ParameterType;
            if (type.IsByRef)
            {
                text.Append(p.IsOut ? "out " : p.IsIn ? "in " : "ref ");
                type = type.GetElementType()!;
            }

            if (p.IsDefined(typeof(ParamArrayAttribute)) || p.IsDefined(typeof(ParamCollectionAttribute)))
            {
                text.Append("params ");
            }

            text.Append(TypeName(type, context.Create(p), byRefElement: p.ParameterType.IsByRef)).Append(' ').Append(p.Name);
            if (p.HasDefaultValue)
            {
                text.Append(" = ").Append(Literal(p.RawDefaultValue, type));
            }

            return text.ToString();
        }));
    }

    private static string Literal(object? value, Type type)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        return value switch
        {
            null when type.IsValueType && Nullable.GetUnderlyingType(type) is null => "default",
            null => "null",
            string s => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"",
            bool b => b ? "true" : "false",
            char c => $"'{c}'",
            _ when underlying.IsEnum => Enum.GetName(underlying, value) is { } name ? $"{TypeName(underlying)}.{name}" : $"({TypeName(underlying)}){Convert.ToString(value, CultureInfo.InvariantCulture)}",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "null",
        };
    }

    private static string Constraints(Type[] parameters)
    {
        var text = new StringBuilder();
        foreach (var parameter in parameters)
        {
            var constraints = new List<string>();
            var attributes = parameter.GenericParameterAttributes;
            if (attributes.HasFlag(GenericParameterAttributes.ReferenceTypeConstraint))
            {
                constraints.Add("class");
            }

            if (attributes.HasFlag(GenericParameterAttributes.NotNullableValueTypeConstraint))
            {
                constraints.Add("struct");
            }

            constraints.AddRange(parameter.GetGenericParameterConstraints().Where(static c => c != typeof(ValueType)).Select(static c => TypeName(c)).Order(StringComparer.Ordinal));
            if (attributes.HasFlag(GenericParameterAttributes.DefaultConstructorConstraint) && !attributes.HasFlag(GenericParameterAttributes.NotNullableValueTypeConstraint))
            {
                constraints.Add("new()");
            }

            if (constraints.Count > 0)
            {
                text.Append(" where ").Append(parameter.Name).Append(" : ").Append(string.Join(", ", constraints));
            }
        }

        return text.ToString();
    }

    /// <summary>A type as C# writes it, fully qualified, with <c>?</c> where <paramref name="nullability"/> says nullable.</summary>
    private static string TypeName(Type type, NullabilityInfo? nullability = null, bool declaration = false, bool byRefElement = false)
    {
        if (byRefElement && nullability?.ElementType is { } element)
        {
            nullability = element;
        }

        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            return TypeName(underlying, nullability?.GenericTypeArguments.FirstOrDefault()) + "?";
        }

        var nullable = !type.IsValueType && nullability?.ReadState == NullabilityState.Nullable ? "?" : string.Empty;
        if (type.IsArray)
        {
            return TypeName(type.GetElementType()!, nullability?.ElementType) + "[" + new string(',', type.GetArrayRank() - 1) + "]" + nullable;
        }

        if (type.IsGenericParameter)
        {
            // NullabilityInfoContext reads T and T? of unconstrained type parameters inconsistently (by the nullable context
            // of the member), so type parameters are written without annotations.
            return type.Name;
        }

        if (s_keywords.TryGetValue(type, out var keyword))
        {
            return keyword + nullable;
        }

        var arguments = type.GetGenericArguments();
        var argumentInfos = nullability?.GenericTypeArguments ?? [];
        if (type.FullName?.StartsWith("System.ValueTuple`", StringComparison.Ordinal) == true || (type.IsGenericType && type.GetGenericTypeDefinition().FullName?.StartsWith("System.ValueTuple`", StringComparison.Ordinal) == true))
        {
            return "(" + string.Join(", ", arguments.Select((a, i) => TypeName(a, i < argumentInfos.Length ? argumentInfos[i] : null))) + ")";
        }

        // Outer.Inner<T>: each level takes its own share of the generic arguments.
        var chain = new List<Type>();
        for (var t = type.IsGenericType && !type.IsGenericTypeDefinition ? type.GetGenericTypeDefinition() : type; t is not null; t = t.DeclaringType)
        {
            chain.Insert(0, t);
        }

        var text = new StringBuilder(chain[0].Namespace is { Length: > 0 } ns ? ns + "." : string.Empty);
        var used = 0;
        foreach (var level in chain)
        {
            if (level != chain[0])
            {
                text.Append('.');
            }

            var tick = level.Name.IndexOf('`', StringComparison.Ordinal);
            text.Append(tick < 0 ? level.Name : level.Name[..tick]);
            var count = level.GetGenericArguments().Length - used;
            if (count > 0)
            {
                var own = arguments.Skip(used).Take(count).Select((a, i) => declaration || type.IsGenericTypeDefinition
                    ? a.Name
                    : TypeName(a, used + i < argumentInfos.Length ? argumentInfos[used + i] : null));
                text.Append('<').Append(string.Join(", ", own)).Append('>');
                used += count;
            }
        }

        return text + nullable;
    }
}
