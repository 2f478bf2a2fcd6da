//! The list operators (`$contains`, `$lacks`, `$each`, `$count`) as folds:
//! a verdict built one element at a time, so a list too long to hold is
//! judged whole while it streams past. The in-memory match folds the same way.

use serde_json::Value;

use super::{
    describe_list_of, short, user_id_of, Bindings, Explanation, MatchContext, Mismatch, Pattern,
    SHOWN_ELEMENTS,
};
use crate::spec::glance::{Glance, Kind};
use crate::spec::template::Variable;

/// Most elements a failed `$contains` examines for the nearest one when none
/// has the UserID it names: past them, the rest of a long list is settled at a glance.
pub const NEAREST_EXAMINED: usize = 256;

/// Most element pointers `$each` lists past the ones it spells out; the rest are counted.
const LISTED_ELEMENTS: usize = 10;

/// The state of one list operator's fold.
#[derive(Debug, Clone)]
pub(super) enum ListFold {
    /// `$contains`: matched yet, else the nearest element so far.
    Contains {
        matched: bool,
        expected_user_id: Option<Value>,
        nearest: Option<Nearest>,
        /// Elements examined that could not match, for the nearest.
        examined: usize,
    },
    /// `$lacks`: the first element that matches, as shown.
    Lacks { first: Option<(usize, String)> },
    /// `$each`: the differences of the first elements that differ, their
    /// labels (bounded), and how many differ.
    Each {
        shown: Explanation,
        labels: Vec<String>,
        differing: usize,
    },
    /// `$count`: how many matched.
    Count { found: usize },
}

/// The nearest element of a `$contains` that matched none.
#[derive(Debug, Clone)]
pub(super) struct Nearest {
    index: usize,
    same_user_id: bool,
    found: Explanation,
    user_id: String,
}

impl ListFold {
    /// The fold of `pattern` and the pattern each element is matched
    /// against, when `pattern` is a list operator.
    pub(super) fn of<'p>(
        pattern: &'p Pattern,
        context: &MatchContext<'_>,
    ) -> Option<(ListFold, &'p Pattern)> {
        Some(match pattern {
            Pattern::Contains(inner) => (
                ListFold::Contains {
                    matched: false,
                    expected_user_id: inner.expected_user_id(context),
                    nearest: None,
                    examined: 0,
                },
                inner,
            ),
            Pattern::Lacks(inner) => (ListFold::Lacks { first: None }, inner),
            Pattern::Each(inner) => (
                ListFold::Each {
                    shown: Explanation::default(),
                    labels: Vec::new(),
                    differing: 0,
                },
                inner,
            ),
            Pattern::Count(inner, _) => (ListFold::Count { found: 0 }, inner),
            _ => return None,
        })
    }

    /// Whether element `index`, seen only at a `glance`, must be parsed
    /// whole for this fold; when not, the glance settles it.
    fn wants(&mut self, inner: &Pattern, glance: &Glance, filter: &GlanceFilter) -> bool {
        match self {
            ListFold::Contains { matched: true, .. } => false,
            ListFold::Contains {
                nearest, examined, ..
            } => {
                let nearest_found = nearest.as_ref().is_some_and(|best| best.same_user_id);
                if filter.admits(glance) {
                    return true;
                }
                // Not a match: only a candidate for the nearest, examined up to a bound.
                if !nearest_found && *examined < NEAREST_EXAMINED {
                    return true;
                }
                false
            }
            ListFold::Lacks { first: Some(_) } => false,
            ListFold::Lacks { first: None } | ListFold::Count { .. } => filter.admits(glance),
            // A type is settled at a glance; a difference is spelled out from the element.
            ListFold::Each { .. } => match inner {
                Pattern::Any(json_type) if *json_type != super::JsonType::Integer => {
                    !admits_kind(*json_type, glance.kind)
                }
                _ => true,
            },
        }
    }

    /// Element `index` of the list at `pointer`.
    pub(super) fn element(
        &mut self,
        inner: &Pattern,
        index: usize,
        element: &Value,
        pointer: &str,
        context: &MatchContext<'_>,
    ) {
        match self {
            ListFold::Contains {
                matched,
                expected_user_id,
                nearest,
                examined,
            } => {
                if *matched {
                    return;
                }
                *examined += 1;
                let mut found = Explanation::default();
                inner.check(
                    Some(element),
                    &format!("{pointer}/{index}"),
                    context,
                    &mut found,
                );
                if found.mismatches.is_empty() {
                    *matched = true;
                    *nearest = None;
                    return;
                }
                let same_user_id = expected_user_id
                    .as_ref()
                    .is_some_and(|user_id| element.get("UserID") == Some(user_id));
                let nearer = nearest.as_ref().is_none_or(|best| {
                    (!same_user_id, found.mismatches.len())
                        < (!best.same_user_id, best.found.mismatches.len())
                });
                if nearer {
                    *nearest = Some(Nearest {
                        index,
                        same_user_id,
                        found,
                        user_id: user_id_of(element),
                    });
                }
            }
            ListFold::Lacks { first } => {
                if first.is_none() && inner.is_match(Some(element), context) {
                    *first = Some((index, short(element)));
                }
            }
            ListFold::Each {
                shown,
                labels,
                differing,
            } => {
                let at = format!("{pointer}/{index}");
                if *differing < SHOWN_ELEMENTS {
                    let mut found = Explanation::default();
                    inner.check(Some(element), &at, context, &mut found);
                    if !found.mismatches.is_empty() {
                        shown.mismatches.extend(found.mismatches);
                        shown.notes.extend(found.notes);
                        labels.push(format!("{at}{}", user_id_of(element)));
                        *differing += 1;
                    }
                } else if !inner.is_match(Some(element), context) {
                    if labels.len() < SHOWN_ELEMENTS + LISTED_ELEMENTS {
                        labels.push(at);
                    }
                    *differing += 1;
                }
            }
            ListFold::Count { found } => {
                if inner.is_match(Some(element), context) {
                    *found += 1;
                }
            }
        }
    }

    /// The verdict on the whole list of `count` elements at `pointer`.
    pub(super) fn finish(
        self,
        operator: &Pattern,
        inner: &Pattern,
        count: usize,
        pointer: &str,
        context: &MatchContext<'_>,
        out: &mut Explanation,
    ) {
        match self {
            ListFold::Contains { matched: true, .. } => {}
            ListFold::Contains {
                expected_user_id,
                nearest,
                examined,
                ..
            } => {
                let Some(nearest) = nearest.filter(|_| count > 0) else {
                    out.mismatches.push(Mismatch {
                        pointer: pointer.to_string(),
                        expected: format!("an element matching {}", inner.describe(context)),
                        actual: "an empty array".to_string(),
                    });
                    return;
                };
                let at = format!("{pointer}/{}", nearest.index);
                let user_id = &nearest.user_id;
                let which = match (&expected_user_id, nearest.same_user_id) {
                    _ if count == 1 => {
                        format!("the only element, {at}{user_id}, does not match")
                    }
                    (Some(expected), true) => format!(
                        "none of the {count} elements matches; the nearest is {at}, the one with UserID {}",
                        short(expected)
                    ),
                    (Some(expected), false) => format!(
                        "none of the {count} elements matches; no element has UserID {}; the nearest (fewest differences) is {at}{user_id}",
                        short(expected)
                    ),
                    (None, _) => format!(
                        "none of the {count} elements matches; the nearest (fewest differences) is {at}{user_id}"
                    ),
                };
                let which = if examined < count && !nearest.same_user_id {
                    format!(
                        "{which} (of the {examined} elements examined; the others cannot match)"
                    )
                } else {
                    which
                };
                out.notes.push(which);
                out.mismatches.extend(nearest.found.mismatches);
                out.notes.extend(nearest.found.notes);
            }
            ListFold::Lacks { first } => {
                if let Some((index, element)) = first {
                    out.mismatches.push(Mismatch {
                        pointer: format!("{pointer}/{index}"),
                        expected: format!("no element matching {}", inner.describe(context)),
                        actual: element,
                    });
                }
            }
            ListFold::Each {
                shown,
                labels,
                differing,
            } => {
                if differing == 0 {
                    return;
                }
                out.mismatches.extend(shown.mismatches);
                out.notes.extend(shown.notes);
                let shown_elements = differing.min(SHOWN_ELEMENTS);
                out.notes.push(format!(
                    "{differing} of the {count} elements differ{}: {}",
                    if differing > shown_elements {
                        format!(", the first {shown_elements} shown")
                    } else {
                        String::new()
                    },
                    labels[..shown_elements].join(", ")
                ));
                if differing > shown_elements {
                    let rest = differing - shown_elements;
                    let listed = &labels[shown_elements..];
                    out.mismatches.push(Mismatch {
                        pointer: pointer.to_string(),
                        expected: format!("every element matching {}", inner.describe(context)),
                        actual: format!(
                            "{rest} more that do not: {}{}",
                            listed.join(", "),
                            if rest > listed.len() { ", …" } else { "" }
                        ),
                    });
                }
            }
            ListFold::Count { found } => {
                let Pattern::Count(_, expected) = operator else {
                    return;
                };
                if found != *expected {
                    out.mismatches.push(Mismatch {
                        pointer: pointer.to_string(),
                        expected: format!(
                            "exactly {expected} element(s) matching {}",
                            inner.describe(context)
                        ),
                        actual: format!("{found} such element(s)"),
                    });
                }
            }
        }
    }
}

/// Whether `json_type` admits a value of `kind` (an integer is a number: undecided, so yes).
fn admits_kind(json_type: super::JsonType, kind: Kind) -> bool {
    use super::JsonType;
    match json_type {
        JsonType::Any => true,
        JsonType::String => kind == Kind::String,
        JsonType::Integer | JsonType::Number => kind == Kind::Number,
        JsonType::Boolean => kind == Kind::Boolean,
        JsonType::Null => kind == Kind::Null,
        JsonType::Array => kind == Kind::Array,
        JsonType::Object => kind == Kind::Object,
    }
}

/// What an element seen at a glance must be to possibly match a pattern,
/// its variables resolved once: false only when it certainly does not
/// match (an object pattern against another type, or a UserID or Name the
/// pattern names exactly, or by its start, that differs).
#[derive(Debug, Clone)]
enum GlanceFilter {
    /// Anything may match.
    Anything,
    /// A value of a type.
    OfType(super::JsonType),
    /// An object whose UserID and Name are as given.
    Object {
        user_id: Option<Expected>,
        name: Option<Expected>,
    },
}

/// A member value an object pattern names.
#[derive(Debug, Clone)]
enum Expected {
    Equal(Value),
    StartsWith(String),
}

impl Expected {
    fn of(field: &Pattern, context: &MatchContext<'_>) -> Option<Expected> {
        match field {
            Pattern::Text(template) => template.resolve(context.bindings).ok().map(Expected::Equal),
            Pattern::Scalar(value) => Some(Expected::Equal(value.clone())),
            Pattern::StartsWith(template) => template
                .resolve_string(context.bindings)
                .ok()
                .map(Expected::StartsWith),
            _ => None,
        }
    }

    fn admits(&self, found: Option<&Value>) -> bool {
        match self {
            Expected::Equal(value) => found == Some(value),
            Expected::StartsWith(prefix) => found
                .and_then(Value::as_str)
                .is_some_and(|text| text.starts_with(prefix.as_str())),
        }
    }
}

impl GlanceFilter {
    fn of(pattern: &Pattern, context: &MatchContext<'_>) -> GlanceFilter {
        match pattern {
            Pattern::Object(fields) | Pattern::Exact(fields) | Pattern::Customer(fields) => {
                let named = |key: &str| {
                    fields
                        .iter()
                        .find(|(name, _)| name == key)
                        .and_then(|(_, field)| Expected::of(field, context))
                };
                GlanceFilter::Object {
                    user_id: named("UserID"),
                    name: named("Name"),
                }
            }
            Pattern::Any(json_type) => GlanceFilter::OfType(*json_type),
            _ => GlanceFilter::Anything,
        }
    }

    fn admits(&self, glance: &Glance) -> bool {
        match self {
            GlanceFilter::Anything => true,
            GlanceFilter::OfType(json_type) => admits_kind(*json_type, glance.kind),
            GlanceFilter::Object { user_id, name } => {
                glance.kind == Kind::Object
                    && user_id
                        .as_ref()
                        .is_none_or(|expected| expected.admits(glance.user_id.as_ref()))
                    && name
                        .as_ref()
                        .is_none_or(|expected| expected.admits(glance.name.as_ref()))
            }
        }
    }
}

/// The pattern each element of a list operator is matched against.
fn operand(pattern: &Pattern) -> Option<&Pattern> {
    match pattern {
        Pattern::Contains(inner)
        | Pattern::Lacks(inner)
        | Pattern::Each(inner)
        | Pattern::Count(inner, _) => Some(inner),
        _ => None,
    }
}

/// Variable values taken when a step is sent, so a list's elements can be
/// matched while they stream in, away from the step's live bindings.
#[derive(Debug, Clone, Default)]
struct FixedBindings(Vec<(Variable, Result<Value, String>)>);

impl Bindings for FixedBindings {
    fn resolve(&self, variable: &Variable) -> Result<Value, String> {
        self.0
            .iter()
            .find(|(known, _)| known == variable)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| Err(format!("{variable:?} was not bound when the list was read")))
    }
}

/// A step's expected body judged against a JSON list one element at a
/// time, as the list is read: the verdict is the one the whole list would
/// get, but no more of the list than its reader keeps is ever held.
#[derive(Debug, Clone)]
pub struct ListJudge {
    pattern: Pattern,
    bindings: FixedBindings,
    username: String,
    contextname: String,
    fold: Option<ListFold>,
    filter: GlanceFilter,
    elements: usize,
    customers: bool,
}

impl ListJudge {
    /// A judge of `pattern`, its variables resolved now from `context`.
    pub fn new(pattern: &Pattern, context: &MatchContext<'_>) -> ListJudge {
        let mut bindings = FixedBindings::default();
        for template in pattern.templates() {
            for variable in template.variables() {
                if !bindings.0.iter().any(|(known, _)| known == variable) {
                    let value = context.bindings.resolve(variable);
                    bindings.0.push((variable.clone(), value));
                }
            }
        }
        let mut judge = ListJudge {
            pattern: pattern.clone(),
            bindings,
            username: context.username.to_string(),
            contextname: context.contextname.to_string(),
            fold: None,
            filter: GlanceFilter::Anything,
            elements: 0,
            customers: true,
        };
        judge.restart();
        judge
    }

    /// Whether the verdict rests on elements the judge does not fold (an
    /// exact array, a `$one_of` of list operators...): the reader must then
    /// keep every element for [`ListJudge::finish`].
    pub fn needs_every_element(&self) -> bool {
        self.fold.is_none() && self.pattern.depends_on_elements()
    }

    /// Forgets every element: the list is read again from its start.
    pub fn restart(&mut self) {
        let context = MatchContext {
            bindings: &self.bindings,
            username: &self.username,
            contextname: &self.contextname,
        };
        self.fold = ListFold::of(&self.pattern, &context).map(|(fold, _)| fold);
        self.filter = operand(&self.pattern).map_or(GlanceFilter::Anything, |inner| {
            GlanceFilter::of(inner, &context)
        });
        self.elements = 0;
        self.customers = true;
    }

    /// Whether the next element, seen at a `glance`, must be parsed whole
    /// and given to [`ListJudge::element`]; when not, the glance settled it.
    pub fn wants(&mut self, glance: &Glance) -> bool {
        let wanted = match (&mut self.fold, operand(&self.pattern)) {
            (Some(fold), Some(inner)) => fold.wants(inner, glance, &self.filter),
            // Any other pattern is matched against the elements kept, not these.
            _ => false,
        };
        if !wanted {
            self.customers &= glance.kind == Kind::Object && glance.user_id_text().is_some();
            self.elements += 1;
        }
        wanted
    }

    /// The next element of the list, parsed whole (after [`ListJudge::wants`] asked for it).
    pub fn element(&mut self, element: &Value) {
        let context = MatchContext {
            bindings: &self.bindings,
            username: &self.username,
            contextname: &self.contextname,
        };
        self.customers &= element.get("UserID").is_some_and(Value::is_string);
        if let (Some(fold), Some(inner)) = (&mut self.fold, operand(&self.pattern)) {
            fold.element(inner, self.elements, element, "", &context);
        }
        self.elements += 1;
    }

    /// The list read so far, in a few words: `a list of 100000 customers`.
    pub fn described(&self) -> String {
        describe_list_of(self.elements, self.customers)
    }

    /// The verdict on the whole list. `kept` is the list as its reader kept
    /// it: a pattern other than a list operator is matched against it,
    /// which gives the whole list's verdict (such a pattern does not look at
    /// the elements, or the reader kept them all), and what the list was is
    /// told by its size, not by the elements kept.
    pub fn finish(&self, kept: &Value) -> Explanation {
        let context = MatchContext {
            bindings: &self.bindings,
            username: &self.username,
            contextname: &self.contextname,
        };
        let mut out = Explanation::default();
        match (&self.fold, operand(&self.pattern)) {
            (Some(fold), Some(inner)) => {
                fold.clone()
                    .finish(&self.pattern, inner, self.elements, "", &context, &mut out);
            }
            _ => {
                out = self.pattern.explain(Some(kept), &context);
                if kept
                    .as_array()
                    .is_some_and(|kept| kept.len() == self.elements)
                {
                    return out;
                }
                let kept_shown = super::shown(kept);
                let whole = describe_list_of(self.elements, self.customers);
                for mismatch in &mut out.mismatches {
                    if mismatch.pointer.is_empty() {
                        mismatch.actual = mismatch.actual.replace(&kept_shown, &whole);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::glance::Glance;
    use serde_json::json;

    struct Uid;
    impl Bindings for Uid {
        fn resolve(&self, variable: &Variable) -> Result<Value, String> {
            match variable {
                Variable::Uid(label) => Ok(Value::String(format!("zz-{label}"))),
                other => Err(format!("{other:?}")),
            }
        }
    }

    /// The judge fed as the list reader feeds it: a glance first, the element only if wanted.
    fn streamed(pattern: &Pattern, list: &[Value]) -> Explanation {
        let context = MatchContext {
            bindings: &Uid,
            username: "user",
            contextname: "ipdr",
        };
        let mut judge = ListJudge::new(pattern, &context);
        for element in list {
            let glance: Glance = serde_json::from_str(&element.to_string()).unwrap();
            if judge.wants(&glance) {
                judge.element(element);
            }
        }
        judge.finish(&Value::Array(list.to_vec()))
    }

    fn whole(pattern: &Pattern, list: &[Value]) -> Explanation {
        let context = MatchContext {
            bindings: &Uid,
            username: "user",
            contextname: "ipdr",
        };
        pattern.explain(Some(&Value::Array(list.to_vec())), &context)
    }

    #[test]
    fn a_list_judged_as_it_streams_gets_the_verdict_and_words_of_the_whole_list() {
        let own = json!({"id": 1, "UserID": "zz-a", "Name": "Trisul", "Address": "Chennai"});
        let twin = json!({"id": 2, "UserID": "zz-a", "Name": "Other"});
        let foreign = |n: usize| json!({"id": n, "UserID": format!("f{n}"), "Name": "N"});
        let lists: Vec<Vec<Value>> = vec![
            vec![],
            vec![own.clone()],
            vec![foreign(1), foreign(2), own.clone(), foreign(3)],
            vec![foreign(1), twin.clone(), foreign(3)],
            vec![foreign(1), foreign(2)],
            vec![
                foreign(1),
                json!(7),
                json!("s"),
                json!(null),
                json!([1]),
                own.clone(),
            ],
            vec![own.clone(), own.clone(), twin.clone()],
            (0..40).map(foreign).collect(),
        ];
        let patterns = [
            json!({"$contains": {"$customer": {"UserID": "${uid:a}", "Name": "Trisul"}}}),
            json!({"$contains": {"UserID": "${uid:a}", "Name": "Trisul", "Address": "Chennai"}}),
            json!({"$contains": {"Name": "N"}}),
            json!({"$lacks": {"UserID": "${uid:a}"}}),
            json!({"$lacks": {"Name": "Other"}}),
            json!({"$count": {"of": {"UserID": {"$starts_with": "zz-"}}, "is": 2}}),
            json!({"$count": {"of": {"UserID": "${uid:a}"}, "is": 1}}),
            json!({"$each": {"$any": "object"}}),
            json!({"$each": {"$any": "integer"}}),
            json!({"$each": {"Name": {"$any": "string"}}}),
            json!({"$error": "invalid_token"}),
            json!({"$one_of": [{"$error": "invalid_token"}, {"$error": "invalid_context"}]}),
            json!({"$any": "array"}),
        ];
        for pattern in &patterns {
            let parsed = Pattern::parse(pattern).unwrap();
            for list in &lists {
                assert_eq!(
                    streamed(&parsed, list),
                    whole(&parsed, list),
                    "{pattern} on {}",
                    Value::Array(list.clone())
                );
            }
        }
    }

    #[test]
    fn a_long_list_without_the_user_id_names_the_nearest_of_those_examined() {
        let pattern =
            Pattern::parse(&json!({"$contains": {"UserID": "${uid:a}", "Name": "N"}})).unwrap();
        let list: Vec<Value> = (0..NEAREST_EXAMINED + 10)
            .map(|n| json!({"UserID": format!("f{n}"), "Name": if n == 300 { "N" } else { "M" }}))
            .collect();
        let found = streamed(&pattern, &list);
        assert!(!found.mismatches.is_empty());
        assert!(
            found.notes[0].ends_with(&format!(
                "(of the {NEAREST_EXAMINED} elements examined; the others cannot match)"
            )),
            "{:?}",
            found.notes
        );
    }
}
